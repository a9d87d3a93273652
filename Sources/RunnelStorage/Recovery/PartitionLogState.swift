// PartitionLogState: the mutable state of one partition log (segments, offsets, producer state,
// in-flight appends), only ever touched inside PartitionLog's lock; plus opening and recovery.
import Collections
import KafkaRecords
import Logging
import NIOCore

/// An append whose write is in flight; completions are delivered in this order.
struct PendingAppend {
    var token: UInt64
    var segment: LogSegment
    var startPosition: Int64
    var endPosition: Int64
    var nextOffset: Int64
    var result: AppendResult
    var recordCount: Int64
    var synced: Bool
    var done = false
    var errno: Int32 = 0
    var completion: (@Sendable (Result<AppendResult, StorageError>) -> Void)?
}

final class PartitionLogState {
    let directory: String
    let cache: FileHandleCache
    let logger: Logger
    var config: LogConfig
    var segments: [LogSegment] = []
    var logStartOffset: Int64 = 0
    var highWatermark: Int64 = 0
    /// Next offset to assign (includes in-flight appends).
    var nextOffset: Int64 = 0
    /// One past the last offset readable (its write completed).
    var logEndOffset: Int64 = 0
    /// Everything below is known to be fsynced.
    var recoveryPoint: Int64 = 0
    var unflushedMessages: Int64 = 0
    var lastFlushMs: Int64 = 0
    var pending: Deque<PendingAppend> = []
    var nextToken: UInt64 = 0
    /// Set when a write failed: appends from this token on fail, then the log is truncated back.
    var failure: (token: UInt64, offset: Int64, segment: LogSegment, position: Int64)?
    var offlineReason: String?
    /// Segments renamed `.deleted`, removed at `dueMs`.
    var doomed: [(segment: LogSegment, dueMs: Int64)] = []
    /// Segments rolled away from whose data is not yet known to be fsynced.
    var rolledUnflushed: [LogSegment] = []
    /// The cleaner's position: offsets below were compacted at least once (nil: never cleaned).
    var firstDirtyOffset: Int64?
    /// The earliest delete horizon (tombstones, markers) left by the cleaner: the log is cleanable again then.
    var deleteHorizonDueMs: Int64?
    /// Bumped by every truncation, so a compaction that raced one is not swapped in.
    var truncations = 0
    let clock: @Sendable () -> Int64
    let epochs: LeaderEpochCache
    let producers: ProducerStateManager

    init(directory: String, config: LogConfig, cache: FileHandleCache, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.clock = clock
        self.directory = directory
        self.config = config
        self.cache = cache
        self.logger = logger
        epochs = LeaderEpochCache(directory: directory)
        producers = ProducerStateManager(directory: directory)
    }

    var activeSegment: LogSegment { segments[segments.count - 1] }

    /// The last stable offset: the first offset of the oldest open transaction, capped by the high watermark.
    var lastStableOffset: Int64 {
        if let first = producers.firstUnstableOffset, first < highWatermark { return max(first, logStartOffset) }
        return highWatermark
    }

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

    // MARK: Opening

    /// Opens the segments found in the directory. A clean start loads only the active segment's indexes;
    /// an unclean one validates every batch from the segment holding `recoveryPoint` on.
    func open(clean: Bool, recoveryPoint checkpointed: Int64?, logStartOffset checkpointedStart: Int64?,
              highWatermark checkpointedHighWatermark: Int64?, nowMs: Int64) throws(StorageError) {
        var bases: [Int64] = []
        var swapped: Set<Int64> = []
        for name in try FileSystem.list(directory) {
            let path = directory + "/" + name
            if name.hasSuffix(".deleted") || name.hasSuffix(".cleaned") || name.hasSuffix(".tmp") {
                FileSystem.unlink(path)
            } else if name.hasSuffix(".swap") {
                // A compaction swap was interrupted after the cleaned files were complete: finish it.
                try FileSystem.rename(path, to: String(path.dropLast(".swap".count)))
                if name.hasSuffix(".log.swap"), let base = Int64(name.dropLast(".log.swap".count)) {
                    bases.append(base)
                    swapped.insert(base)
                }
            } else if name.hasSuffix(".log"), let base = Int64(name.dropLast(".log".count)) {
                bases.append(base)
            }
        }
        bases = Array(Set(bases)).sorted()
        for base in bases {
            segments.append(try LogSegment.open(directory: directory, baseOffset: base, config: config, cache: cache, now: nowMs))
        }
        try finishSwaps(swapped)
        if segments.isEmpty {
            let start = checkpointedStart ?? 0
            segments.append(try LogSegment.create(directory: directory, baseOffset: start, config: config, cache: cache, now: nowMs))
        }
        if clean {
            try activeSegment.load()
            recoveryPoint = activeSegment.nextOffset
        } else {
            try recover(from: checkpointed ?? 0)
        }
        nextOffset = activeSegment.nextOffset
        logEndOffset = nextOffset
        logStartOffset = min(max(checkpointedStart ?? segments[0].baseOffset, segments[0].baseOffset), logEndOffset)
        highWatermark = min(max(checkpointedHighWatermark ?? logEndOffset, logStartOffset), logEndOffset)
        if !(try epochs.load()) {
            logger.warning("leader-epoch-checkpoint unreadable; starting with an empty epoch cache", metadata: ["dir": "\(directory)"])
        }
        try epochs.truncateFromEnd(logEndOffset)
        try rebuildProducerState(nowMs: nowMs)
        lastFlushMs = nowMs
    }

    /// A swapped-in segment may be a merge of several old segments that were not all renamed away before a
    /// crash: its indexes are rebuilt from the log, and old segments overlapping its offsets are deleted.
    private func finishSwaps(_ swapped: Set<Int64>) throws(StorageError) {
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            index += 1
            guard swapped.contains(segment.baseOffset) else { continue }
            _ = try segment.recover()
            while index < segments.count, segments[index].baseOffset < segment.nextOffset {
                logger.warning("removed a segment merged by an interrupted compaction swap",
                               metadata: ["dir": "\(directory)", "segment": "\(segments[index].baseOffset)"])
                segments[index].deleteFiles()
                segments.remove(at: index)
            }
        }
    }

    /// Validates segments from the one holding `point`; a corrupt batch truncates the log there.
    private func recover(from point: Int64) throws(StorageError) {
        let first = segmentIndex(for: point) ?? 0
        var index = first
        while index < segments.count {
            let segment = segments[index]
            let truncated = try segment.recover()
            if truncated > 0 {
                logger.warning("truncated a torn or corrupt log tail",
                               metadata: ["dir": "\(directory)", "segment": "\(segment.baseOffset)", "bytes": "\(truncated)"])
                // Everything after a bad batch is unreachable: drop the later segments.
                for later in segments[(index + 1)...] {
                    later.deleteFiles()
                }
                segments.removeSubrange((index + 1)...)
                break
            }
            index += 1
        }
        // An empty non-first trailing segment whose base is beyond its predecessor's end is fine; a
        // segment whose base offset is below its predecessor's next offset is not.
        recoveryPoint = activeSegment.nextOffset
    }

    /// Loads the newest usable snapshot at or below the log end offset and replays the batches after it.
    func rebuildProducerState(nowMs: Int64) throws(StorageError) {
        try producers.deleteSnapshots(above: logEndOffset)
        var start = segments[0].baseOffset
        producers.reset(to: start)
        for offset in try producers.snapshotOffsets().reversed() {
            if try producers.loadSnapshot(at: offset) {
                start = offset
                break
            }
            logger.warning("corrupt producer snapshot deleted", metadata: ["dir": "\(directory)", "offset": "\(offset)"])
            FileSystem.unlink(directory + "/" + ProducerStateManager.snapshotName(offset))
            producers.reset(to: start)
        }
        guard start < logEndOffset else { return }
        let from = segmentIndex(for: start) ?? 0
        for segment in segments[from...] {
            try segment.load()
            var scanner = BatchScanner(file: try segment.logFile(), from: 0, to: segment.visibleSize)
            while case let .batch(header, position) = try scanner.next(verify: false) {
                guard header.lastOffset >= start, header.hasProducerId else { continue }
                var control: ControlRecordType?
                if header.isControl, let bytes = try scanner.batchBytes(at: position, size: header.totalSize) {
                    control = RecordScan.controlType(in: bytes, at: bytes.readerIndex, header: header)
                }
                if let (aborted, isAbort) = producers.apply(header, control: control, nowMs: nowMs), isAbort,
                   !segment.transactionIndex.entries.contains(where: {
                       $0.producerId == aborted.producerId && $0.lastOffset == aborted.lastOffset }) {
                    try segment.transactionIndex.append(aborted, cache: cache)
                }
            }
        }
        producers.mapEndOffset = logEndOffset
    }
}
