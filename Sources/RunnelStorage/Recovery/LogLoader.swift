// LogLoader: opening one partition's log (Kafka's LogLoader) — listing the segments, finishing an
// interrupted compaction swap, loading (clean start) or validating and truncating (unclean start) the
// segments, then the offsets, the leader-epoch cache and producer state (newest usable snapshot plus a
// replay of the batch headers after it) on top.
import KafkaRecords
import Logging

/// Opens and recovers partition logs.
enum LogLoader {
    /// Opens the segments found in the directory into `state.local`, then the state above them. A clean
    /// start loads only the active segment's indexes; an unclean one validates every batch from the
    /// segment holding `recoveryPoint` on.
    static func open(_ state: PartitionLogState, clean: Bool, recoveryPoint checkpointed: Int64?,
                     logStartOffset checkpointedStart: Int64?, highWatermark checkpointedHighWatermark: Int64?,
                     nowMs: Int64) throws(StorageError) {
        let local = state.local
        try openSegments(local, nowMs: nowMs, firstBase: checkpointedStart ?? 0)
        try discoverRemote(state)
        if clean {
            try local.activeSegment.load()
            local.recoveryPoint = local.activeSegment.nextOffset
        } else {
            try recover(local, from: checkpointed ?? 0)
        }
        local.nextOffset = local.activeSegment.nextOffset
        local.logEndOffset = local.nextOffset
        local.lastFlushMs = nowMs
        let first = state.tier.segments.first?.baseOffset ?? local.segments[0].baseOffset
        state.logStartOffset = min(max(checkpointedStart ?? first, first), local.logEndOffset)
        state.highWatermark = min(max(checkpointedHighWatermark ?? local.logEndOffset, state.logStartOffset), local.logEndOffset)
        if !(try state.epochs.load()) {
            local.logger.warning("leader-epoch-checkpoint unreadable; starting with an empty epoch cache",
                                 metadata: ["dir": "\(local.directory)"])
        }
        try state.epochs.truncateFromEnd(local.logEndOffset)
        try rebuildProducerState(state.producers, local: local, nowMs: nowMs)
    }

    private static func openSegments(_ local: LocalLog, nowMs: Int64, firstBase: Int64) throws(StorageError) {
        var bases: [Int64] = []
        var swapped: Set<Int64> = []
        for name in try FileSystem.list(local.directory) {
            let path = local.directory + "/" + name
            if name.hasSuffix(".deleted") || name.hasSuffix(".cleaned") || name.hasSuffix(".tmp") {
                FileSystem.reclaim(path)
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
        for base in Set(bases).sorted() {
            local.segments.append(try LogSegment.open(directory: local.directory, baseOffset: base, config: local.config,
                                                      cache: local.cache, now: nowMs))
        }
        try finishSwaps(local, swapped)
        if local.segments.isEmpty {
            local.segments.append(try LogSegment.create(directory: local.directory, baseOffset: firstBase, config: local.config,
                                                        cache: local.cache, now: nowMs))
        }
    }

    /// A swapped-in segment may be a merge of several old segments that were not all renamed away before a
    /// crash: its indexes are rebuilt from the log, and old segments overlapping its offsets are deleted.
    private static func finishSwaps(_ local: LocalLog, _ swapped: Set<Int64>) throws(StorageError) {
        var index = 0
        while index < local.segments.count {
            let segment = local.segments[index]
            index += 1
            guard swapped.contains(segment.baseOffset) else { continue }
            _ = try segment.recover()
            while index < local.segments.count, local.segments[index].baseOffset < segment.nextOffset {
                local.logger.warning("removed a segment merged by an interrupted compaction swap",
                                     metadata: ["dir": "\(local.directory)", "segment": "\(local.segments[index].baseOffset)"])
                local.segments[index].deleteFiles()
                local.segments.remove(at: index)
            }
        }
    }

    /// Validates segments from the one holding `point`; a corrupt batch truncates the log there.
    private static func recover(_ local: LocalLog, from point: Int64) throws(StorageError) {
        var index = local.segmentIndex(for: point) ?? 0
        while index < local.segments.count {
            let segment = local.segments[index]
            let truncated = try segment.recover()
            if truncated > 0 {
                local.logger.warning("truncated a torn or corrupt log tail",
                                     metadata: ["dir": "\(local.directory)", "segment": "\(segment.baseOffset)", "bytes": "\(truncated)"])
                // Everything after a bad batch is unreachable: drop the later segments.
                for later in local.segments[(index + 1)...] { later.deleteFiles() }
                local.segments.removeSubrange((index + 1)...)
                break
            }
            index += 1
        }
        local.recoveryPoint = local.activeSegment.nextOffset
    }

    /// Loads the newest usable snapshot at or below the log end offset and replays the batches after it.
    static func rebuildProducerState(_ producers: ProducerStateManager, local: LocalLog, nowMs: Int64) throws(StorageError) {
        try producers.deleteSnapshots(above: local.logEndOffset)
        var start = local.segments[0].baseOffset
        producers.reset(to: start)
        for offset in try producers.snapshotOffsets().reversed() {
            if try producers.loadSnapshot(at: offset) {
                start = offset
                break
            }
            local.logger.warning("corrupt producer snapshot deleted", metadata: ["dir": "\(local.directory)", "offset": "\(offset)"])
            FileSystem.unlink(local.directory + "/" + ProducerStateManager.snapshotName(offset))
            producers.reset(to: start)
        }
        guard start < local.logEndOffset else { return }
        let from = local.segmentIndex(for: start) ?? 0
        for segment in local.segments[from...] {
            try segment.load()
            var scanner = BatchScanner(file: try segment.logFile(), from: 0, to: segment.visibleSize)
            while case let .batch(header, position) = try scanner.next(verify: false) {
                guard header.lastOffset >= start, header.hasProducerId else { continue }
                var marker: TransactionMarkerScan?
                if header.isControl, let bytes = try scanner.batchBytes(at: position, size: header.totalSize) {
                    marker = RecordScan.marker(in: bytes, at: bytes.readerIndex, header: header)
                }
                if let (aborted, isAbort) = producers.apply(header, marker: marker, nowMs: nowMs), isAbort,
                   !segment.transactionIndex.entries.contains(where: {
                       $0.producerId == aborted.producerId && $0.lastOffset == aborted.lastOffset }) {
                    try segment.transactionIndex.append(aborted, cache: local.cache)
                }
            }
        }
        producers.mapEndOffset = local.logEndOffset
    }
}
