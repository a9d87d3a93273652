// PartitionLog: one partition's log as the broker sees it (Kafka's UnifiedLog) — appends with durable,
// callback-based completion, the high watermark (moved here on write completion under the single-node
// policy), the append listener, flushes — over a LocalLog that owns the segments. All mutable state
// sits in one lock with short critical sections; every file write the log causes (data, index bytes
// written behind, a rolled segment's fsync, producer snapshots, the leader-epoch checkpoint) runs on
// the log dir's I/O engine, so callers on event loops only enqueue. Reads, offsets, truncation and
// background work are in PartitionLog+Operations.swift.
import Foundation
import KafkaRecords
import Logging
import NIOCore
import Synchronization

/// One partition's log. Thread-safe; all state sits behind one lock.
public final class PartitionLog: Sendable {
    /// The topic.
    public let topic: String
    /// The partition index.
    public let partition: Int32
    /// The topic id from `partition.metadata`, when known.
    public let topicId: UUID?
    /// The partition directory `<log dir>/<topic>-<partition>`.
    public let directory: String
    let logDir: LogDirectory
    let state: Mutex<PartitionLogState>
    let clock: @Sendable () -> Int64
    let logger: Logger
    /// Snapshots and checkpoints written atomically through the engine.
    let fileWriter: AtomicFileWriter
    /// The hooks, in a struct: a closure held directly as a `Mutex`'s value gains two reabstraction
    /// thunks on every `withLock`, so a listener read once per write would grow without bound
    /// (decision 0026).
    private struct Listeners: Sendable {
        var appended: (@Sendable (PartitionLog) -> Void)?
        var written: (@Sendable (PartitionLog) -> Void)?
    }
    private let listeners = Mutex(Listeners())
    /// One past the last offset of the remote tier (0: none); reads below it check the remote tier.
    /// Raised before a segment moves there, so a read never misses it; may stay high after deletes.
    let remoteEnd = Atomic<Int64>(0)

    init(topic: String, partition: Int32, topicId: UUID?, directory: String, logDir: LogDirectory,
         state: sending PartitionLogState, clock: @escaping @Sendable () -> Int64, logger: Logger) {
        self.topic = topic
        self.partition = partition
        self.topicId = topicId
        self.directory = directory
        self.logDir = logDir
        let writer = AtomicFileWriter(engine: logDir.engine, directory: directory, logger: logger) { code, path in
            logDir.recordFailure(errno: code, path: path)
        }
        state.producers.writer = writer
        state.epochs.writer = writer
        state.local.directIO = logDir.directIO
        state.local.tailCache = logDir.tailCache
        self.fileWriter = writer
        self.state = Mutex(state)
        self.clock = clock
        self.logger = logger
        remoteEnd.store(self.state.withLock { $0.tier.segments.last?.endOffset ?? 0 }, ordering: .releasing)
    }

    // MARK: Offsets

    /// One past the last offset whose bytes are written (readable by followers).
    public var logEndOffset: Int64 { state.withLock { $0.local.logEndOffset } }
    /// One past the last offset appended, written or still in flight (the next append's first offset).
    public var appendedEndOffset: Int64 { state.withLock { $0.local.nextOffset } }
    /// Bytes appended whose write has not reached the file yet (a follower far behind stops running ahead
    /// of its disk on it).
    public var unwrittenBytes: Int64 { state.withLock { $0.local.unwrittenBytes } }
    /// The first offset still in the log.
    public var logStartOffset: Int64 { state.withLock { $0.logStartOffset } }
    /// The offset up to which consumers may read (see `highWatermarkPolicy`).
    public var highWatermark: Int64 { state.withLock { $0.highWatermark } }
    /// The high watermark, or the first offset of the oldest open transaction when that is lower.
    public var lastStableOffset: Int64 { state.withLock { $0.lastStableOffset } }
    /// Everything below this offset is fsynced.
    public var recoveryPoint: Int64 { state.withLock { $0.local.recoveryPoint } }
    /// Size of all segments in bytes.
    public var size: Int64 { state.withLock { $0.local.size } }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { state.withLock { $0.local.segments.map(\.baseOffset) } }
    /// The current configuration.
    public var config: LogConfig { state.withLock { $0.config } }
    /// Why the partition is offline, nil when it serves.
    public var offlineReason: String? {
        if logDir.isOffline { return "log directory \(logDir.path) is offline" }
        return state.withLock { $0.offlineReason }
    }

    /// Who moves the high watermark: the log itself on write completion (`.durableLogEnd`, a single node)
    /// or its owner through `updateHighWatermark(_:)` (`.external`, replication).
    public var highWatermarkPolicy: HighWatermarkPolicy {
        get { state.withLock { $0.highWatermarkPolicy } }
        set { state.withLock { $0.highWatermarkPolicy = newValue } }
    }

    /// Sets the high watermark, clamped to [log start offset, log end offset]. Returns the value set.
    @discardableResult
    public func updateHighWatermark(_ offset: Int64) -> Int64 {
        state.withLock { s in
            s.highWatermark = min(max(offset, s.logStartOffset), s.local.logEndOffset)
            return s.highWatermark
        }
    }

    /// Replaces the configuration (segment, retention, flush settings take effect from the next append).
    public func updateConfig(_ config: LogConfig) throws(StorageError) {
        try config.validate()
        state.withLock { s in
            s.local.config = config
            for segment in s.local.segments {
                segment.offsetIndex.maxEntries = max(config.segmentIndexBytes / OffsetIndex.entrySize, 1)
                segment.timeIndex.maxEntries = max(config.segmentIndexBytes / TimeIndex.entrySize, 1)
                segment.indexIntervalBytes = config.indexIntervalBytes
            }
        }
    }

    /// Registers a hook called (on the I/O thread, outside the lock) once per write completion that moved
    /// the log end offset — after the high watermark moved, before the appends are acknowledged — so
    /// long-poll fetches can wake up. Keep it cheap.
    public func setAppendListener(_ listener: (@Sendable (PartitionLog) -> Void)?) {
        listeners.withLock { $0.appended = listener }
    }

    /// Registers a hook called (on the engine's write thread, outside the lock) when the written end
    /// (`FetchIsolation.written`) moved ahead of the durable log end — before the fsync — so long-polling
    /// follower fetches can read it while it syncs. Keep it cheap.
    public func setWrittenListener(_ listener: (@Sendable (PartitionLog) -> Void)?) {
        listeners.withLock { $0.written = listener }
    }

    // MARK: Append

    /// Appends batches checked by `RecordBatchValidator` (see `ValidatedBatches`); the log does not parse
    /// or check their headers again.
    ///
    /// For `.client` and `.coordinator` the log assigns offsets and stamps `leaderEpoch`; for
    /// `.replication` the batches keep their offsets and epochs (a follower's append). `completion` runs
    /// once, on the I/O thread: when the bytes are durable (flush.messages = 1, the default), or when they
    /// are written to the page cache otherwise; at once for rejections and duplicates. Nothing blocking
    /// runs on the caller's thread: a roll only creates the new segment's files. `written`, when given,
    /// runs (on the engine's write thread) once the bytes reached the file, before their fsync; appends
    /// that are not synced separately have only `completion`.
    public func append(_ batches: ValidatedBatches, leaderEpoch: Int32, origin: AppendOrigin = .client,
                       written: (@Sendable () -> Void)? = nil,
                       completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) {
        if logDir.isOffline {
            completion(.failure(.logDirOffline(path: logDir.path)))
            return
        }
        let now = clock()
        let outcome: Result<AppendPlan, StorageError> = state.withLock { s in
            let plan = s.planAppend(batches, leaderEpoch: leaderEpoch, origin: origin, nowMs: now, completion: completion)
            // Index bytes and rolled segments' fsyncs go first: the engine completes in submission order.
            submitQueuedIO(s)
            if case let .write(file, position, chunks, sync, token, direct) = plan {
                var request = IORequest(file: file, position: position, chunks: chunks, sync: sync) { [self] code in
                    writeCompleted(token: token, errno: code)
                }
                request.direct = direct
                // Before the fsync: followers may fetch what is written while it syncs.
                if sync {
                    request.written = { [self] code in
                        guard code == 0 else { return }
                        writeWritten(token: token)
                        written?()
                    }
                }
                if !logDir.engine.submit(request) {
                    // The engine is shut down: fail this append (the pending entry is failed and rolled back).
                    _ = s.complete(token: token, errno: EBADF)
                    return .failure(.logDirOffline(path: logDir.path))
                }
            }
            return .success(plan)
        }
        switch outcome {
        case let .failure(error): completion(.failure(error))
        case let .success(.fail(error)): completion(.failure(error))
        case let .success(.duplicate(result)): completion(.success(result))
        case .success(.write): break
        }
    }

    /// Checks the batch headers of raw `records` for `origin` (`ValidatedBatches.validate(_:origin:maxMessageBytes:)`)
    /// and appends them. For callers without a validator of their own: tests, tools, the CLI.
    public func append(records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin = .client,
                       completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) {
        let batches: ValidatedBatches
        do throws(StorageError) {
            batches = try ValidatedBatches.validate(records, origin: origin, maxMessageBytes: config.maxMessageBytes)
        } catch {
            completion(.failure(error))
            return
        }
        append(batches, leaderEpoch: leaderEpoch, origin: origin, completion: completion)
    }

    /// Appends and waits for the completion (tests, tools, the CLI — not for event loops).
    public func appendAndWait(records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin = .client) throws(StorageError) -> AppendResult {
        let box = Mutex<Result<AppendResult, StorageError>?>(nil)
        let semaphore = DispatchSemaphore(value: 0)
        append(records: records, leaderEpoch: leaderEpoch, origin: origin) { result in
            box.withLock { $0 = result }
            semaphore.signal()
        }
        semaphore.wait()
        guard let result = box.withLock({ $0 }) else { throw .partitionOffline("append completion lost") }
        return try result.get()
    }

    /// Hands the index bytes written behind and the fsyncs of rolled segments to the engine. Called under
    /// the lock, so they queue ahead of the data write that follows.
    func submitQueuedIO(_ s: PartitionLogState) {
        let local = s.local
        if !local.indexWrites.isEmpty {
            for write in local.indexWrites {
                guard let file = try? local.cache.handle(write.path, create: true) else { continue }
                var request = IORequest(file: file, position: write.position, chunks: [write.bytes], sync: false) { [self] code in
                    if code != 0 { logDir.recordFailure(errno: code, path: write.path) }
                    state.withLock { $0.local.indexWritesInFlight -= 1 }
                }
                request.injectable = false
                if logDir.engine.submit(request) { local.indexWritesInFlight += 1 }
            }
            local.indexWrites.removeAll()
        }
        for segment in local.rolledUnflushed {
            guard let file = try? segment.logFile() else { continue }
            let upTo = segment.nextOffset
            var request = IORequest(file: file, position: 0, chunks: [], sync: true) { [self] code in
                flushCompleted(upTo: upTo, errno: code, path: file.path)
            }
            if segment.directTail != nil {
                // Direct path: the rolled segment's zero-padded tail is cut back to its logical size after
                // its last write (queued earlier), before this fsync — closed segments are byte-identical
                // to the buffered path's. Its cached buffers stay readable (`sealDirectTail`).
                request.truncateTo = segment.size
                segment.sealDirectTail()
            }
            _ = logDir.engine.submit(request)
        }
        local.rolledUnflushed.removeAll()
    }

    private func writeCompleted(token: UInt64, errno code: Int32) {
        if code == 0 { logDir.recordSuccess() } else { logDir.recordFailure(errno: code, path: directory) }
        let (callbacks, advanced) = state.withLock { $0.complete(token: token, errno: code) }
        // The listener runs first (once), so an acknowledged append has always been announced.
        if advanced, let listener = listeners.withLock({ $0.appended }) { listener(self) }
        for callback in callbacks { callback() }
    }

    /// A write reached the file and waits for its fsync: long-polling follower fetches may read it now.
    private func writeWritten(token: UInt64) {
        let moved = state.withLock { $0.local.markWritten(token: token) }
        if moved, let listener = listeners.withLock({ $0.written }) { listener(self) }
    }

    private func flushCompleted(upTo offset: Int64, errno code: Int32, path: String) {
        guard code == 0 else {
            logDir.recordFailure(errno: code, path: path)
            return
        }
        state.withLock { s in s.local.recoveryPoint = max(s.local.recoveryPoint, min(offset, s.local.logEndOffset)) }
    }

    /// Queues an fsync of everything written so far (flush.ms, shutdown); `completion` runs when durable.
    public func flush(completion: (@Sendable (Result<Int64, StorageError>) -> Void)? = nil) {
        let target: (file: LogFileHandle, offset: Int64)? = state.withLock { s in
            submitQueuedIO(s)
            s.local.unflushedMessages = 0
            s.local.lastFlushMs = clock()
            guard let file = try? s.local.activeSegment.logFile() else { return nil }
            return (file, s.local.nextOffset)
        }
        guard let target else {
            completion?(.failure(.partitionOffline("no active segment file")))
            return
        }
        let request = IORequest(file: target.file, position: 0, chunks: [], sync: true) { [self] code in
            flushCompleted(upTo: target.offset, errno: code, path: target.file.path)
            completion?(code == 0 ? .success(target.offset) : .failure(.io(operation: "fdatasync", path: target.file.path, errno: code)))
        }
        if !logDir.engine.submit(request) { completion?(.failure(.logDirOffline(path: logDir.path))) }
    }
}
