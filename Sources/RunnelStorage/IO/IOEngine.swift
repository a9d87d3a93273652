// IOEngine: the per-log-dir I/O layer, a two-stage pipeline. The write stage drains a queue of
// positional writes from every partition of the log dir and writes them; the sync stage fsyncs each
// touched file once for every write round finished meanwhile (group commit), then fires the
// completions in order. So the next round's page-cache writes overlap the previous round's fsync, and
// with `io.sync.workers` > 1 a pass's fsyncs overlap the previous pass's (decision 0024).
// The backends are io_uring or plain pwritev/fdatasync, one per stage. When a round touches many
// files (many partitions), one syncfs of the log dir's file system replaces the per-file fdatasyncs:
// one journal commit and one device flush instead of one per file.
import Foundation
import Logging
import NIOCore
import Synchronization

/// Which I/O engine a log dir uses (`io.engine`).
public enum IOEngineKind: String, Sendable, CaseIterable {
    /// io_uring when the kernel allows it, else posix.
    case auto
    /// io_uring only; creating the log manager fails when a ring cannot be created.
    case ioUring = "io_uring"
    /// pwritev + fdatasync on the engine thread.
    case posix
}

/// One positional write (or, with no chunks, a sync only) queued on an engine.
struct IORequest {
    var file: LogFileHandle
    var position: Int64
    /// Written contiguously at `position`; slices of the caller's buffers, never copies.
    var chunks: [ByteBuffer]
    /// fdatasync the file after the write, before completing.
    var sync: Bool
    /// Called on one of the engine's sync threads with 0 or an errno, in submission order (one at a time).
    var completion: @Sendable (Int32) -> Void
    /// Called on the engine's write thread once the bytes are written (0) or the write failed (errno),
    /// before the sync stage takes the request; `completion` follows. Nil: not needed.
    var written: (@Sendable (Int32) -> Void)? = nil
    /// Whether the test fault injector may fail this write: appends' data writes only, not the index
    /// bytes, snapshots and checkpoints queued beside them (the fault tests target appends).
    var injectable = true
    /// Direct path: the aligned bytes to write at `position` with O_DIRECT (`file` is the O_DIRECT handle,
    /// `chunks` is empty).
    var direct: DirectSpan? = nil
    /// Direct path: ftruncate `file` to this size after the round's writes (a segment's padded tail cut
    /// back to its logical size at roll and close).
    var truncateTo: Int64? = nil
}

/// Executes a batch of requests; used only on its engine's thread.
protocol IOBackend: AnyObject {
    /// Returns one result (0 or errno) per request, after all writes and the needed syncs are done.
    func execute(_ batch: [IORequest]) -> [Int32]
    func close()
}

/// The queue and threads in front of the backends. Thread-safe; completions run on a sync thread, one at a
/// time, in submission order.
final class IOEngine: @unchecked Sendable {
    // @unchecked: `queue`, `stopping`, `stopped`, `syncJobs`, `writerDone`, `nextPass`, `runningSyncWorkers`,
    // `completedPasses` are only touched with their condition locked; `backend` and `directRing` only on
    // the write thread, `syncBackends[i]` only on sync worker i.
    private let condition = NSCondition()
    private var queue: [IORequest] = []
    private var stopping = false
    private var stopped = false
    private let backend: any IOBackend
    /// Write rounds waiting for their fsyncs, oldest first.
    private let syncCondition = NSCondition()
    private var syncJobs: [SyncJob] = []
    private var writerDone = false
    /// The number the next sync pass gets (passes complete in this order).
    private var nextPass: UInt64 = 0
    /// Sync workers still running (the last to stop closes the directory and tells the write stage).
    private var runningSyncWorkers = 0
    /// Passes whose requests are completed; pass N completes only after pass N - 1.
    private let completionCondition = NSCondition()
    private var completedPasses: UInt64 = 0
    /// One backend per sync worker (its own ring on io_uring engines).
    private let syncBackends: [any IOBackend]
    /// The direct path's ring (io_uring engines): several files' O_DIRECT writes of a round in flight at
    /// once. Only touched on the write thread.
    private var directRing: IOUringBackend?
    private var directRingFailed = false
    let kind: IOEngineKind
    let name: String
    let faults: IOFaultInjector?
    /// A round that must sync at least this many files syncs the whole file system instead (0: never).
    let syncfsMinFiles: Int
    /// The log dir, open for syncfs; -1 when it could not be opened (then per-file syncs only).
    private let directoryDescriptor: Int32
    /// Sync rounds answered by one syncfs (tests, metrics).
    let syncfsRounds = Atomic<Int>(0)
    /// Sync passes whose fsyncs are done (their completions may still wait for earlier passes; tests).
    let syncedPasses = Atomic<Int>(0)
    /// Direct writes carry RWF_DSYNC (`log.io.direct.sync = dsync`): durable when written, not synced again.
    private let directDsync: Bool
    /// Sync latency and group-commit sizes, per sync round.
    private let metrics: IOEngineMetrics

    /// Creates the engine for `kind`; `.auto` falls back to posix when io_uring cannot start.
    /// `name` is the log dir's path.
    init(kind: IOEngineKind, name: String, logger: Logger, syncfsMinFiles: Int = 0,
         faults: IOFaultInjector? = nil, directDsync: Bool = false,
         syncWorkers: Int = 1) throws(StorageError) {
        self.name = name
        self.directDsync = directDsync
        self.faults = faults
        self.syncfsMinFiles = syncfsMinFiles
        self.metrics = IOEngineMetrics(logDir: name)
        // The first ring decides the kind: `.ioUring` fails without one, `.auto` falls back to posix.
        let ring: IOUringBackend?
        switch kind {
        case .posix:
            ring = nil
        case .ioUring:
            ring = try IOUringBackend(entries: 256)
        case .auto:
            do {
                ring = try IOUringBackend(entries: 256)
            } catch {
                logger.info("io_uring unavailable, using posix I/O", metadata: ["logDir": "\(name)", "reason": "\(error)"])
                ring = nil
            }
        }
        self.kind = ring == nil ? .posix : .ioUring
        // Buffered writes go through a ring only where the file system completes them inside io_uring
        // (XFS, btrfs). Elsewhere (ext4, tmpfs, …) the kernel hands each writev SQE to an io-wq worker,
        // which only adds a thread hop, so the write stage uses pwritev and the ring carries the syncs.
        let workerCount = max(1, syncWorkers)
        var syncs: [any IOBackend] = []
        if let ring, IOUringBackend.fileSystemHasAsyncBufferedWrites(name) {
            backend = ring
            logger.info("io_uring engine", metadata: ["logDir": "\(name)", "writes": "ring", "syncWorkers": "\(workerCount)"])
        } else if let ring {
            backend = PosixIOBackend()
            syncs.append(ring)
            logger.info("io_uring engine", metadata: [
                "logDir": "\(name)", "writes": "pwritev (no async buffered writes on this file system); syncs on the ring",
                "syncWorkers": "\(workerCount)"])
        } else {
            backend = PosixIOBackend()
        }
        while syncs.count < workerCount {
            if ring != nil, let another = try? IOUringBackend(entries: 256) { syncs.append(another) } else { syncs.append(PosixIOBackend()) }
        }
        syncBackends = syncs
        // Opened once nothing above can throw any more (closed when the sync stage stops).
        directoryDescriptor = syncfsMinFiles > 0 && GlibcExtras.syncfs != nil ? open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1
        let thread = Thread { [self] in
            ThreadName.setCurrent("runnel-io")
            run()
        }
        thread.start()
        runningSyncWorkers = syncs.count
        for worker in syncs.indices {
            let syncThread = Thread { [self] in
                ThreadName.setCurrent("runnel-sync")
                runSyncs(worker: worker)
            }
            syncThread.start()
        }
    }

    /// Queues a request; false after `shutdown` (the completion is then never called).
    @discardableResult
    func submit(_ request: IORequest) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return false }
        queue.append(request)
        if queue.count == 1 { condition.signal() }
        return true
    }

    /// Requests queued for the write stage plus those written and waiting for their sync (for /metrics).
    var queueDepth: Int {
        condition.lock()
        let queued = queue.count
        condition.unlock()
        syncCondition.lock()
        let syncing = syncJobs.reduce(0) { $0 + $1.batch.count }
        syncCondition.unlock()
        return queued + syncing
    }

    /// Completes everything queued, then stops the thread and closes the backend.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    /// One write round handed from the write stage to the sync stage.
    private struct SyncJob {
        var batch: [IORequest]
        /// Per request: 0, or the errno its write failed with.
        var writeResults: [Int32]
    }

    /// The write stage: drains the queue, writes each batch (no syncs), hands it to the sync stage.
    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if let faults, !stopping {
                condition.unlock()
                faults.waitWhileHeld()
                condition.lock()
            }
            if queue.isEmpty && stopping {
                condition.unlock()
                finishSyncStage()
                backend.close()
                directRing?.close()
                condition.lock()
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            var writes = batch
            for index in writes.indices { writes[index].sync = false }
            let writeStart = DispatchTime.now()
            var results: [Int32]
            if let faults {
                var injected: [Int: Int32] = [:]
                for (index, request) in batch.enumerated() where (!request.chunks.isEmpty || request.direct != nil) && request.injectable {
                    if let code = faults.nextFailure() { injected[index] = code }
                }
                let runnable = writes.enumerated().filter { injected[$0.offset] == nil }
                let written = executeWrites(runnable.map(\.element))
                var byIndex = injected
                for (entry, result) in zip(runnable, written) { byIndex[entry.offset] = result }
                results = batch.indices.map { byIndex[$0] ?? EIO }
            } else {
                results = executeWrites(writes)
            }
            metrics.recordWriteRound(since: writeStart)
            for (request, result) in zip(batch, results) { request.written?(result) }
            syncCondition.lock()
            syncJobs.append(SyncJob(batch: batch, writeResults: results))
            syncCondition.signal()
            syncCondition.unlock()
        }
    }

    /// The backend's writes, then the direct-path writes and truncations of the round (direct requests
    /// have no chunks and are no-ops to the backend).
    private func executeWrites(_ requests: [IORequest]) -> [Int32] {
        guard requests.contains(where: { $0.direct != nil || $0.truncateTo != nil }) else { return backend.execute(requests) }
        var results = backend.execute(requests)
        if kind == .ioUring && directRing == nil && !directRingFailed {
            // Created on first use, on this thread (only the write thread touches it).
            directRing = try? IOUringBackend(entries: 64)
            directRingFailed = directRing == nil
        }
        DirectIO.execute(requests, results: &results, ring: directRing, dsync: directDsync)
        return results
    }

    /// A direct write made with RWF_DSYNC: durable once written (a truncation or buffered write is not).
    private func durableOnWrite(_ request: IORequest) -> Bool {
        directDsync && request.direct != nil && request.truncateTo == nil
    }

    /// Lets the sync stage finish every job handed to it, then waits for it to stop.
    private func finishSyncStage() {
        syncCondition.lock()
        writerDone = true
        syncCondition.broadcast()
        while writerDone { syncCondition.wait() }
        syncCondition.unlock()
    }

    /// A sync worker (the sync stage has `syncBackends.count`): takes every write round finished so far
    /// as one pass, fdatasyncs each file that a request of them asked to sync once, then completes the
    /// requests in submission order, after every earlier pass's. While one worker waits for its pass's
    /// fsyncs, another takes the rounds written meanwhile: fdatasync makes durable what was written before
    /// the call, whatever else is in flight on the file, so overlapping passes keep every guarantee.
    private func runSyncs(worker: Int) {
        let syncBackend = syncBackends[worker]
        while true {
            syncCondition.lock()
            while syncJobs.isEmpty && !writerDone { syncCondition.wait() }
            if syncJobs.isEmpty {
                syncCondition.unlock()
                syncBackend.close()
                syncCondition.lock()
                runningSyncWorkers -= 1
                if runningSyncWorkers == 0 {
                    if directoryDescriptor >= 0 { _ = close(directoryDescriptor) }
                    writerDone = false  // tells finishSyncStage the stage has stopped
                }
                syncCondition.broadcast()
                syncCondition.unlock()
                return
            }
            let jobs = syncJobs
            syncJobs.removeAll(keepingCapacity: true)
            let pass = nextPass
            nextPass &+= 1
            syncCondition.unlock()
            faults?.waitWhileSyncsHeld()
            var files: [Int32: LogFileHandle] = [:]
            for job in jobs {
                for (request, result) in zip(job.batch, job.writeResults) where request.sync && result == 0 && !durableOnWrite(request) {
                    files[request.file.descriptor] = request.file
                }
            }
            var synced: [Int32: Int32] = [:]
            let syncStarted = DispatchTime.now()
            let usesSyncfs = files.count >= syncfsMinFiles && syncfsMinFiles > 0 && directoryDescriptor >= 0 && GlibcExtras.syncfs != nil
            if usesSyncfs, let syncfs = GlibcExtras.syncfs {
                // Linux ≥ 5.8 reports writeback errors of any file of the file system through syncfs, so
                // a failure fails every request of the round (conservative: none is acknowledged).
                let code = retryingEINTR { syncfs(directoryDescriptor) }
                for descriptor in files.keys { synced[descriptor] = code }
                syncfsRounds.add(1, ordering: .relaxed)
            } else if !files.isEmpty {
                let syncs = files.values.map {
                    IORequest(file: $0, position: 0, chunks: [], sync: true, completion: { _ in })
                }
                for (request, code) in zip(syncs, syncBackend.execute(syncs)) { synced[request.file.descriptor] = code }
            }
            if !files.isEmpty {
                metrics.recordRound(syncfs: usesSyncfs, files: files.count, requests: jobs.reduce(0) { $0 + $1.batch.count },
                                    since: syncStarted)
            }
            syncedPasses.add(1, ordering: .relaxed)
            completionCondition.lock()
            while completedPasses != pass { completionCondition.wait() }
            for job in jobs {
                for (request, result) in zip(job.batch, job.writeResults) {
                    request.completion(result != 0 || !request.sync || durableOnWrite(request)
                                       ? result : synced[request.file.descriptor] ?? EIO)
                }
            }
            completedPasses &+= 1
            completionCondition.broadcast()
            completionCondition.unlock()
        }
    }
}

/// Runs a system call that returns 0, or -1 with errno set, again while it fails with EINTR; returns 0
/// or the errno it failed with.
func retryingEINTR(_ call: () -> Int32) -> Int32 {
    while call() != 0 {
        if errno != EINTR { return errno }
    }
    return 0
}

/// pwritev (one per run of adjacent writes) + one fdatasync per touched file per batch.
final class PosixIOBackend: IOBackend {
    func execute(_ batch: [IORequest]) -> [Int32] {
        var results = [Int32](repeating: 0, count: batch.count)
        for run in WriteRun.plan(batch[...]) {
            let code = LogFileHandle.pwriteAll(descriptor: run.descriptor, chunks: run.chunks, at: run.position)
            for index in run.requests { results[index] = code }
        }
        var synced: [Int32: Int32] = [:]
        // Several files to sync (many partitions): start writeback of all of them first, so their block
        // allocations land in one journal transaction and the fdatasyncs below mostly wait, not commit.
        let syncFiles = Set(batch.indices.lazy.filter { batch[$0].sync && results[$0] == 0 }.map { batch[$0].file.descriptor })
        if syncFiles.count > 1 {
            for fd in syncFiles { Self.startWriteback(fd) }
        }
        for (index, request) in batch.enumerated() where request.sync && results[index] == 0 {
            let fd = request.file.descriptor
            if let previous = synced[fd] {
                results[index] = previous
                continue
            }
            let code = retryingEINTR { fdatasync(fd) }
            synced[fd] = code
            results[index] = code
        }
        return results
    }

    func close() {}

    /// sync_file_range(SYNC_FILE_RANGE_WRITE) over the whole file: starts writeback, waits for nothing.
    private static func startWriteback(_ fd: Int32) {
        FileSystem.syncFileRange(fd, offset: 0, length: 0, flags: FileSystem.syncFileRangeWrite)
    }
}
