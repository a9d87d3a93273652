// LocalLog: the segments of one partition on local disk (Kafka's LocalLog). It owns the segment list,
// appends of batches already checked and planned above it (positions, in-memory index entries), the
// queue of writes in flight whose completions move the log end offset in order, rolls, reads as file
// slices, truncation, segment deletion and the recovery point. It knows nothing of producers, leader
// epochs, the high watermark or the log start offset: PartitionLog owns those. Used only under
// PartitionLog's lock. On the append path it neither writes nor fsyncs a file (a roll only creates the
// new segment's files): the index bytes and fsyncs it produces are collected (`indexWrites`,
// `rolledUnflushed`) for PartitionLog to hand to the log dir's I/O engine.
import DequeModule
import KafkaRecords
import Logging
import NIOCore

/// A write in flight; completions are delivered in this order.
struct InFlightWrite {
    var token: UInt64
    var segment: LogSegment
    var startPosition: Int64
    var endPosition: Int64
    var nextOffset: Int64
    var result: AppendResult
    var synced: Bool
    var done = false
    /// The bytes are in the file (page cache), maybe not yet fsynced.
    var written = false
    var errno: Int32 = 0
    var completion: (@Sendable (Result<AppendResult, StorageError>) -> Void)?
}

/// What finishing one write released, in log order.
struct WriteCompletions {
    /// Writes that completed (readable now), oldest first.
    var succeeded: [InFlightWrite] = []
    /// Writes that failed, or were queued behind a failed one, with their error.
    var failed: [(write: InFlightWrite, error: StorageError)] = []
    /// Where to cut the log back to once nothing is in flight after a failure.
    var rollBack: (segment: LogSegment, position: Int64)?
}

/// What `prepareSegment(for:)` did to the active segment.
enum RollOutcome {
    case none
    /// A new active segment starts at this offset.
    case rolled(Int64)
    /// The empty active segment was replaced by one at this offset (a replicated batch far ahead).
    case replacedEmpty(Int64)
}

/// The segments of one partition. Not thread-safe: used only under its partition's lock.
final class LocalLog {
    let directory: String
    let cache: FileHandleCache
    let logger: Logger
    let clock: @Sendable () -> Int64
    var config: LogConfig
    var segments: [LogSegment] = []
    /// Next offset to assign (includes in-flight appends).
    var nextOffset: Int64 = 0
    /// One past the last offset readable (its write completed).
    var logEndOffset: Int64 = 0
    /// Everything below is known to be fsynced.
    var recoveryPoint: Int64 = 0
    var unflushedMessages: Int64 = 0
    var lastFlushMs: Int64 = 0
    var inFlight: Deque<InFlightWrite> = []
    var nextToken: UInt64 = 0
    /// Set when a write failed: appends from this token on fail, then the log is cut back.
    var failure: (token: UInt64, offset: Int64, segment: LogSegment, position: Int64)?
    /// Segments renamed `.deleted`, removed at `dueMs`.
    var doomed: [(segment: LogSegment, dueMs: Int64)] = []
    /// Segments rolled away from whose data is not yet known to be fsynced.
    var rolledUnflushed: [LogSegment] = []
    /// Index bytes due for their files, drained into the I/O engine ahead of the next data write.
    var indexWrites: [IndexWrite] = []
    /// Index writes handed to the engine and not yet completed (truncation waits for none).
    var indexWritesInFlight = 0
    /// Bumped by every truncation, so a read or compaction that raced one is redone or dropped.
    var truncations = 0
    /// Segment data goes through the direct path (`log.io.mode`; the log dir decided).
    var directIO = false
    /// The shared tail cache fetches of the active segment's direct tail are served from (nil: none).
    var tailCache: TailCache?

    init(directory: String, config: LogConfig, cache: FileHandleCache, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.directory = directory
        self.config = config
        self.cache = cache
        self.logger = logger
        self.clock = clock
    }

    var activeSegment: LogSegment { segments[segments.count - 1] }

    /// Size of all segments in bytes.
    var size: Int64 { segments.reduce(0) { $0 + $1.size } }

    /// True when no write, of data or index, is in flight.
    var isIdle: Bool { inFlight.isEmpty && indexWritesInFlight == 0 }

    /// Index of the segment that may hold `offset` (the last one whose base offset is ≤ it).
    func segmentIndex(for offset: Int64) -> Int? {
        var low = 0
        var high = segments.count - 1
        var found: Int?
        while low <= high {
            let mid = (low + high) / 2
            if segments[mid].baseOffset <= offset {
                found = mid
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    // MARK: Appending

    /// Rolls when an append of `bytes` at offsets `firstOffset...lastOffset` would not fit, the segment is
    /// older than segment.ms, an index is full, or the offsets would overflow the index's 32-bit relative
    /// offsets. Only the new segment's files are created here; index bytes go to `indexWrites`.
    func prepareSegment(firstOffset: Int64, lastOffset: Int64, bytes: Int, nowMs: Int64) throws(StorageError) -> RollOutcome {
        let segment = activeSegment
        if segment.size == 0 {
            // An empty active segment whose base is far below a replicated batch is replaced by one at the batch.
            if lastOffset - segment.baseOffset > Int64(Int32.max) && firstOffset > segment.baseOffset {
                segment.deleteFiles()
                segments[segments.count - 1] = try LogSegment.create(directory: directory, baseOffset: firstOffset,
                                                                     config: config, cache: cache, now: nowMs)
                return .replacedEmpty(firstOffset)
            }
            return .none
        }
        let full = segment.size + Int64(bytes) > Int64(config.segmentBytes)
        let old = nowMs - segment.createdAtMs > config.segmentMs
        let indexFull = segment.offsetIndex.isFull || segment.timeIndex.isFull
        let overflow = lastOffset - segment.baseOffset > Int64(Int32.max)
        guard full || old || indexFull || overflow else { return .none }
        try roll(at: firstOffset, nowMs: nowMs)
        return .rolled(firstOffset)
    }

    /// Starts a new active segment at `baseOffset`. The previous segment's last index bytes and its fsync
    /// are queued (`indexWrites`, `rolledUnflushed`), not performed.
    func roll(at baseOffset: Int64, nowMs: Int64) throws(StorageError) {
        let previous = activeSegment
        indexWrites.append(contentsOf: previous.onBecomeInactive())
        segments.append(try LogSegment.create(directory: directory, baseOffset: baseOffset, config: config, cache: cache, now: nowMs))
        rolledUnflushed.append(previous)
    }

    /// Notes a batch (offsets already assigned) written at `position` of the active segment.
    func noteAppend(_ header: RecordBatchHeader, at position: Int64) {
        let writes = activeSegment.noteAppend(header, at: position, indexIntervalBytes: config.indexIntervalBytes)
        if !writes.isEmpty { indexWrites.append(contentsOf: writes) }
    }

    /// Queues the write of an append that ends at `endPosition` of `segment`; returns its token and whether
    /// it must be fsynced before it completes (flush.messages).
    func enqueueWrite(segment: LogSegment, from startPosition: Int64, to endPosition: Int64, result: AppendResult,
                      completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) -> (token: UInt64, sync: Bool) {
        nextOffset = result.lastOffset + 1
        let count = result.lastOffset - result.baseOffset + 1
        let sync = config.isDurableAcknowledgement || unflushedMessages + count >= config.flushMessages
        unflushedMessages = sync ? 0 : unflushedMessages + count
        nextToken += 1
        inFlight.append(InFlightWrite(token: nextToken, segment: segment, startPosition: startPosition, endPosition: endPosition,
                                      nextOffset: nextOffset, result: result, synced: sync, completion: completion))
        return (nextToken, sync)
    }

    /// Records that planning an append failed half way at `position` of `segment`; returns true when the
    /// log must be cut back now (nothing in flight), else that happens when the writes in flight finish.
    func notePlanFailure(segment: LogSegment, position: Int64) -> Bool {
        guard failure == nil else { return false }
        failure = (nextToken + 1, nextOffset, segment, position)
        return inFlight.isEmpty
    }

    /// Marks `token` finished and pops every finished write at the front, in order.
    func complete(token: UInt64, errno code: Int32) -> WriteCompletions {
        if let slot = inFlight.firstIndex(where: { $0.token == token }) {
            inFlight[slot].done = true
            inFlight[slot].errno = code
            if code != 0 && failure == nil {
                let failed = inFlight[slot]
                failure = (token, failed.result.baseOffset, failed.segment, failed.startPosition)
            }
        }
        var outcome = WriteCompletions()
        while let first = inFlight.first, first.done {
            inFlight.removeFirst()
            if let failure, first.token >= failure.token {
                let error = StorageError.io(operation: first.errno != 0 ? "write" : "write (rolled back after an earlier failure)",
                                            path: first.segment.logPath, errno: first.errno != 0 ? first.errno : StorageError.eio)
                outcome.failed.append((first, error))
                continue
            }
            first.segment.visibleSize = max(first.segment.visibleSize, first.endPosition)
            logEndOffset = max(logEndOffset, first.nextOffset)
            if first.synced { recoveryPoint = max(recoveryPoint, first.nextOffset) }
            outcome.succeeded.append(first)
        }
        if let failure, inFlight.isEmpty { outcome.rollBack = (failure.segment, failure.position) }
        return outcome
    }

    /// After a failed write: cuts the segments back to `position` of `segment` (later segments go).
    func cutBack(segment: LogSegment, position: Int64) throws(StorageError) {
        while segments.count > 1, activeSegment !== segment {
            let removed = segments.removeLast()
            removed.deleteFiles()
            rolledUnflushed.removeAll { $0 === removed }
        }
        truncations += 1
        _ = try segment.truncate(toPosition: position)
        nextOffset = segment.nextOffset
        logEndOffset = nextOffset
        recoveryPoint = min(recoveryPoint, logEndOffset)
        unflushedMessages = 0
        failure = nil
    }

    // MARK: Written, not yet durable

    /// Marks a write whose bytes reached the file (the engine's write stage); its completion follows
    /// once it is durable. Returns whether `writtenEnd` moved.
    func markWritten(token: UInt64) -> Bool {
        guard failure == nil, let index = inFlight.firstIndex(where: { $0.token == token }) else { return false }
        let before = writtenEnd
        inFlight[index].written = true
        return writtenEnd > before
    }

    /// One past the last offset whose bytes are in the file, durable or not: the written prefix of the
    /// in-flight writes beyond the log end offset. Followers may read up to here (the leader's high
    /// watermark still waits for its own durable end); consumers never do.
    var writtenEnd: Int64 {
        var end = logEndOffset
        guard failure == nil else { return end }
        for write in inFlight {
            guard write.written || write.done, write.errno == 0 else { break }
            end = max(end, write.nextOffset)
        }
        return end
    }

    /// Bytes of in-flight appends whose write has not reached the file yet (their buffers are still held).
    var unwrittenBytes: Int64 {
        inFlight.reduce(0) { $0 + ($1.written || $1.done ? 0 : $1.endPosition - $1.startPosition) }
    }

    /// How far `segment`'s file holds written bytes: its visible size, or beyond it the end of the
    /// written prefix of in-flight writes to it.
    func writtenSize(of segment: LogSegment) -> Int64 {
        var size = segment.visibleSize
        guard failure == nil else { return size }
        for write in inFlight {
            guard write.written || write.done, write.errno == 0 else { break }
            if write.segment === segment { size = max(size, write.endPosition) }
        }
        return size
    }

    // MARK: Reading

    /// The lock-free part of a read from the segment at `index` (bounds and index lookups in memory).
    func readPlan(segmentAt index: Int, offset: Int64, upper: Int64, maxBytes: Int, minOneBatch: Bool,
                  result: LogReadResult, written: Bool = false) throws(StorageError) -> ReadPlan {
        let segment = segments[index]
        try segment.load()
        let scanFrom = segment.offsetIndex.lookup(offset).position
        return ReadPlan(file: try segment.logFile(), offset: offset, upper: upper, maxBytes: maxBytes,
                        minOneBatch: minOneBatch, scanFrom: scanFrom,
                        upperScanFrom: upper < segment.nextOffset ? segment.offsetIndex.lookup(upper).position : nil,
                        limit: written ? writtenSize(of: segment) : segment.visibleSize, result: result,
                        truncations: truncations, cached: segment.cacheView(from: scanFrom),
                        counter: tailCache)
    }

    /// The whole read under the lock, walking on to later segments when the batch holding `offset` is not
    /// in the first one (compaction gaps): the same `ReadPlan` scan, segment after segment.
    func readWalkingSegments(from index: Int, offset: Int64, upper: Int64, maxBytes: Int, minOneBatch: Bool,
                             result: LogReadResult, written: Bool = false) throws(StorageError) -> (result: LogReadResult, segment: Int)? {
        for current in index..<segments.count {
            let plan = try readPlan(segmentAt: current, offset: offset, upper: upper, maxBytes: maxBytes,
                                    minOneBatch: minOneBatch, result: result, written: written)
            if let found = try plan.execute() { return (found, current) }
        }
        return nil
    }

    /// Aborted transactions with records in [from, to), from the segment at `startingAt` on.
    func abortedTransactions(from: Int64, to: Int64, startingAt: Int) -> [AbortedTransaction] {
        var found: [AbortedTransaction] = []
        for segment in segments[startingAt...] {
            found.append(contentsOf: segment.transactionIndex.overlapping(from: from, to: to))
            if segment.baseOffset >= to { break }
        }
        return found
    }

    // MARK: Truncation and deletion

    /// Removes every offset ≥ `offset` (which is above the first segment's base). No write may be in flight.
    func truncate(to offset: Int64) throws(StorageError) {
        truncations += 1
        while segments.count > 1, activeSegment.baseOffset >= offset {
            let removed = segments.removeLast()
            removed.deleteFiles()
            rolledUnflushed.removeAll { $0 === removed }
        }
        try activeSegment.load()
        _ = try activeSegment.truncate(to: offset)
        resetEndOffsets()
    }

    /// Deletes every segment and starts an empty one at `offset`.
    func truncateFully(startAt offset: Int64) throws(StorageError) {
        truncations += 1
        for segment in segments { segment.deleteFiles() }
        rolledUnflushed.removeAll()
        segments = [try LogSegment.create(directory: directory, baseOffset: offset, config: config, cache: cache, now: clock())]
        recoveryPoint = offset
        resetEndOffsets()
    }

    private func resetEndOffsets() {
        nextOffset = activeSegment.nextOffset
        logEndOffset = nextOffset
        recoveryPoint = min(recoveryPoint, logEndOffset)
    }

    /// Takes segments out of the log and renames them `.deleted`; they are unlinked after file.delete.delay.ms.
    func deleteSegments(_ doomedSegments: [LogSegment], nowMs: Int64) {
        guard !doomedSegments.isEmpty else { return }
        segments.removeAll { segment in doomedSegments.contains { $0 === segment } }
        rolledUnflushed.removeAll { segment in doomedSegments.contains { $0 === segment } }
        for segment in doomedSegments {
            do {
                try segment.rename(suffix: ".deleted")
                doomed.append((segment, nowMs + config.fileDeleteDelayMs))
            } catch {
                logger.error("could not rename segment for deletion", metadata: ["dir": "\(directory)", "error": "\(error)"])
                segment.deleteFiles()
            }
        }
    }

    /// Unlinks `.deleted` files whose delay has passed (or all of them when `force`).
    func removeDueFiles(nowMs: Int64, force: Bool = false) {
        doomed.removeAll { entry in
            guard force || entry.dueMs <= nowMs else { return false }
            entry.segment.deleteFiles()
            return true
        }
    }
}

extension LocalLog {
    /// ListOffsets by time over the segments: the first record at or after `minOffset` whose timestamp
    /// is ≥ `target` (nil when none is that recent).
    func offset(atOrAfterTimestamp target: Int64, minOffset: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        let first = segmentIndex(for: minOffset) ?? 0
        for segment in segments[first...] {
            try segment.load()
            guard segment.maxTimestamp >= target else { continue }
            if let found = try segment.firstOffset(atOrAfterTimestamp: target, minOffset: minOffset, limit: segment.visibleSize) {
                return found
            }
        }
        return nil
    }

    /// The record with the largest timestamp at or after `minOffset` (the latest such segment, then the
    /// record inside its batch).
    func maxTimestampOffset(minOffset: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        var best: LogSegment?
        for segment in segments {
            try segment.load()
            if segment.maxTimestamp >= 0 && segment.maxTimestamp >= (best?.maxTimestamp ?? -1) && segment.nextOffset > minOffset {
                best = segment
            }
        }
        guard let best else { return nil }
        return try best.firstOffset(atOrAfterTimestamp: best.maxTimestamp, minOffset: minOffset, limit: best.visibleSize)
    }
}
