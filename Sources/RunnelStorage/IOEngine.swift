// IOEngine: the per-log-dir I/O layer. One thread drains a queue of positional writes and fsyncs
// from every partition of the log dir, writes them, fsyncs each touched file once (group commit),
// then fires each request's completion. The backend is io_uring or plain pwritev/fdatasync.
import Foundation
import Logging
import NIOCore

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
    /// Called on the engine thread with 0 or an errno.
    var completion: @Sendable (Int32) -> Void
}

/// Executes a batch of requests; used only on its engine's thread.
protocol IOBackend: AnyObject {
    var kind: IOEngineKind { get }
    /// Returns one result (0 or errno) per request, after all writes and the needed syncs are done.
    func execute(_ batch: [IORequest]) -> [Int32]
    func close()
}

/// The queue and thread in front of a backend. Thread-safe; completions run on the engine thread.
final class IOEngine: @unchecked Sendable {
    // @unchecked: `queue`, `stopping` and `backend` are only touched with `condition` locked
    // (queue, stopping) or only on the engine thread after init (backend).
    private let condition = NSCondition()
    private var queue: [IORequest] = []
    private var stopping = false
    private var stopped = false
    private let backend: any IOBackend
    let kind: IOEngineKind
    let name: String
    let faults: IOFaultInjector?

    /// Creates the engine for `kind`; `.auto` falls back to posix when io_uring cannot start.
    init(kind: IOEngineKind, name: String, logger: Logger, faults: IOFaultInjector? = nil) throws(StorageError) {
        self.name = name
        self.faults = faults
        switch kind {
        case .posix:
            backend = PosixIOBackend()
        case .ioUring:
            backend = try IOUringBackend(entries: 256)
        case .auto:
            do {
                backend = try IOUringBackend(entries: 256)
            } catch {
                logger.info("io_uring unavailable, using posix I/O", metadata: ["logDir": "\(name)", "reason": "\(error)"])
                backend = PosixIOBackend()
            }
        }
        self.kind = backend.kind
        let thread = Thread { [self] in run() }
        thread.name = "runnel-io-\(kind.rawValue)"
        thread.start()
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

    /// Completes everything queued, then stops the thread and closes the backend.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

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
                backend.close()
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            guard let faults else {
                let results = backend.execute(batch)
                for (request, result) in zip(batch, results) { request.completion(result) }
                continue
            }
            var injected: [Int: Int32] = [:]
            for (index, request) in batch.enumerated() where !request.chunks.isEmpty {
                if let code = faults.nextFailure() { injected[index] = code }
            }
            let runnable = batch.enumerated().filter { injected[$0.offset] == nil }
            let results = backend.execute(runnable.map(\.element))
            var byIndex = injected
            for (entry, result) in zip(runnable, results) { byIndex[entry.offset] = result }
            for (index, request) in batch.enumerated() { request.completion(byIndex[index] ?? EIO) }
        }
    }
}

/// pwritev (one per run of adjacent writes) + one fdatasync per touched file per batch.
final class PosixIOBackend: IOBackend {
    var kind: IOEngineKind { .posix }

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
            var code: Int32 = 0
            while fdatasync(fd) != 0 {
                if errno == EINTR { continue }
                code = errno
                break
            }
            synced[fd] = code
            results[index] = code
        }
        return results
    }

    func close() {}

    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    /// glibc's sync_file_range (not exported by Swift's Glibc module), looked up once.
    private static let syncFileRange: SyncFileRange? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range")
        .map { unsafeBitCast($0, to: SyncFileRange.self) }

    /// sync_file_range(SYNC_FILE_RANGE_WRITE) over the whole file: starts writeback, waits for nothing.
    private static func startWriteback(_ fd: Int32) {
        _ = syncFileRange?(fd, 0, 0, 2)
    }
}
