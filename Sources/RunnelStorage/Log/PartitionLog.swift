// PartitionLog: the public face of one partition's log — append (durable, callback-based), read
// (file slices), offsets, high watermark, truncation, leader epochs, producer state — behind one lock
// with short critical sections. The I/O happens on the log dir's engine thread.
import Foundation
import KafkaRecords
import Logging
import NIOCore
import Synchronization

/// One partition's log. Thread-safe; all state sits behind one lock.
public final class PartitionLog: Sendable {
    public let topic: String
    public let partition: Int32
    public let topicId: UUID?
    /// The partition directory `<log dir>/<topic>-<partition>`.
    public let directory: String
    let logDir: LogDirectory
    let state: Mutex<PartitionLogState>
    let clock: @Sendable () -> Int64
    let logger: Logger
    private let appendListener = Mutex<(@Sendable (PartitionLog) -> Void)?>(nil)

    init(topic: String, partition: Int32, topicId: UUID?, directory: String, logDir: LogDirectory,
         state: sending PartitionLogState, clock: @escaping @Sendable () -> Int64, logger: Logger) {
        self.topic = topic
        self.partition = partition
        self.topicId = topicId
        self.directory = directory
        self.logDir = logDir
        self.state = Mutex(state)
        self.clock = clock
        self.logger = logger
    }

    // MARK: Offsets

    /// One past the last offset whose bytes are written (readable by followers).
    public var logEndOffset: Int64 { state.withLock { $0.logEndOffset } }
    /// The first offset still in the log.
    public var logStartOffset: Int64 { state.withLock { $0.logStartOffset } }
    /// The offset up to which consumers may read (set by the broker/replication layer).
    public var highWatermark: Int64 { state.withLock { $0.highWatermark } }
    /// The high watermark, or the first offset of the oldest open transaction when that is lower.
    public var lastStableOffset: Int64 { state.withLock { $0.lastStableOffset } }
    /// Everything below this offset is fsynced.
    public var recoveryPoint: Int64 { state.withLock { $0.recoveryPoint } }
    /// Size of all segments in bytes.
    public var size: Int64 { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { state.withLock { $0.segments.map(\.baseOffset) } }
    /// The current configuration.
    public var config: LogConfig { state.withLock { $0.config } }
    /// Why the partition is offline, nil when it serves.
    public var offlineReason: String? {
        if logDir.isOffline { return "log directory \(logDir.path) is offline" }
        return state.withLock { $0.offlineReason }
    }

    /// Sets the high watermark, clamped to [log start offset, log end offset]. Returns the value set.
    @discardableResult
    public func updateHighWatermark(_ offset: Int64) -> Int64 {
        state.withLock { s in
            s.highWatermark = min(max(offset, s.logStartOffset), s.logEndOffset)
            return s.highWatermark
        }
    }

    /// Replaces the configuration (segment, retention, flush settings take effect from the next append).
    public func updateConfig(_ config: LogConfig) throws(StorageError) {
        try config.validate()
        state.withLock { s in
            s.config = config
            for segment in s.segments {
                segment.offsetIndex.maxEntries = max(config.segmentIndexBytes / OffsetIndex.entrySize, 1)
                segment.timeIndex.maxEntries = max(config.segmentIndexBytes / TimeIndex.entrySize, 1)
                segment.indexIntervalBytes = config.indexIntervalBytes
            }
        }
    }

    /// Registers a hook called (on the I/O thread, outside the lock) whenever the log end offset moves,
    /// so long-poll fetches can wake up. Keep it cheap.
    public func setAppendListener(_ listener: (@Sendable (PartitionLog) -> Void)?) {
        appendListener.withLock { $0 = listener }
    }

    // MARK: Append

    /// Appends one or more magic-v2 batches (already CRC-checked by the caller).
    ///
    /// For `.client` and `.coordinator` the log assigns offsets and stamps `leaderEpoch`; for
    /// `.replication` the batches keep their offsets and epochs. `completion` runs once, on the I/O
    /// thread: when the bytes are durable (flush.messages = 1, the default), or when they are written to
    /// the page cache otherwise; at once for rejections and duplicates.
    public func append(records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin = .client,
                       completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) {
        if logDir.isOffline {
            completion(.failure(.logDirOffline(path: logDir.path)))
            return
        }
        let now = clock()
        let outcome: Result<AppendPlan, StorageError> = state.withLock { s in
            let plan = s.planAppend(records: records, leaderEpoch: leaderEpoch, origin: origin, nowMs: now, completion: completion)
            if case let .write(file, position, chunks, sync, token) = plan {
                let request = IORequest(file: file, position: position, chunks: chunks, sync: sync) { [self] code in
                    writeCompleted(token: token, errno: code)
                }
                submitRolledFlushes(s)
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

    private func submitRolledFlushes(_ s: PartitionLogState) {
        for segment in s.rolledUnflushed {
            guard let file = try? segment.logFile() else { continue }
            let upTo = segment.nextOffset
            let request = IORequest(file: file, position: 0, chunks: [], sync: true) { [self] code in
                flushCompleted(upTo: upTo, errno: code, path: file.path)
            }
            _ = logDir.engine.submit(request)
        }
        s.rolledUnflushed.removeAll()
    }

    private func writeCompleted(token: UInt64, errno code: Int32) {
        if code == 0 { logDir.recordSuccess() } else { logDir.recordFailure(errno: code, path: directory) }
        let (callbacks, advanced) = state.withLock { $0.complete(token: token, errno: code) }
        // The listener runs first, so an acknowledged append has always been announced.
        if advanced, let listener = appendListener.withLock({ $0 }) { listener(self) }
        for callback in callbacks { callback() }
    }

    private func flushCompleted(upTo offset: Int64, errno code: Int32, path: String) {
        guard code == 0 else {
            logDir.recordFailure(errno: code, path: path)
            return
        }
        state.withLock { s in s.recoveryPoint = max(s.recoveryPoint, min(offset, s.logEndOffset)) }
    }

    /// Queues an fsync of everything written so far (flush.ms, shutdown); `completion` runs when durable.
    public func flush(completion: (@Sendable (Result<Int64, StorageError>) -> Void)? = nil) {
        let target: (file: LogFileHandle, offset: Int64)? = state.withLock { s in
            submitRolledFlushes(s)
            s.unflushedMessages = 0
            s.lastFlushMs = clock()
            guard let file = try? s.activeSegment.logFile() else { return nil }
            return (file, s.nextOffset)
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
