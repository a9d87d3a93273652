// PartitionLogState+Retention: truncation (follower divergence, failed writes), retention by time,
// size and log start offset (DeleteRecords), and asynchronous segment deletion (`.deleted` files
// removed after file.delete.delay.ms; open slices keep reading the unlinked files).
import NIOCore

extension PartitionLogState {
    /// Removes every offset ≥ `offset`. Callers make sure no write is in flight.
    func truncateSegments(to offset: Int64) throws(StorageError) {
        guard offset < nextOffset else { return }
        truncations += 1
        firstDirtyOffset = firstDirtyOffset.map { min($0, offset) }
        if offset <= segments[0].baseOffset {
            try truncateFully(startAt: offset)
            return
        }
        while segments.count > 1, activeSegment.baseOffset >= offset {
            let removed = segments.removeLast()
            removed.deleteFiles()
            rolledUnflushed.removeAll { $0 === removed }
        }
        try activeSegment.load()
        _ = try activeSegment.truncate(to: offset)
        try afterTruncation()
    }

    /// Deletes every segment and starts an empty log at `offset` (a follower far behind the leader).
    func truncateFully(startAt offset: Int64) throws(StorageError) {
        truncations += 1
        firstDirtyOffset = nil
        for segment in segments { segment.deleteFiles() }
        rolledUnflushed.removeAll()
        segments = [try LogSegment.create(directory: directory, baseOffset: offset, config: config, cache: cache, now: clock())]
        try producers.deleteSnapshots()
        logStartOffset = offset
        highWatermark = offset
        recoveryPoint = offset
        try afterTruncation()
        try epochs.truncateFromStart(offset)
    }

    private func afterTruncation() throws(StorageError) {
        nextOffset = activeSegment.nextOffset
        logEndOffset = nextOffset
        highWatermark = min(highWatermark, logEndOffset)
        recoveryPoint = min(recoveryPoint, logEndOffset)
        logStartOffset = min(logStartOffset, logEndOffset)
        try epochs.truncateFromEnd(logEndOffset)
        try rebuildProducerState(nowMs: clock())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high watermark).
    func deleteRecords(before offset: Int64) throws(StorageError) -> Int64 {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        let target = offset == -1 ? highWatermark : offset
        guard target >= 0, target <= highWatermark else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: logStartOffset, logEndOffset: highWatermark)
        }
        if target > logStartOffset {
            logStartOffset = target
            try epochs.truncateFromStart(target)
            let below = segments.indices.dropLast().filter { segments[$0 + 1].baseOffset <= target }.map { segments[$0] }
            deleteSegments(below, nowMs: clock())
        }
        return logStartOffset
    }

    /// Segments that retention.ms, retention.bytes or the log start offset allow deleting, oldest first.
    /// Only segments wholly below the high watermark qualify; the active one is rolled away first if needed.
    func retentionCandidates(nowMs: Int64) throws(StorageError) -> [LogSegment] {
        var candidates: [LogSegment] = []
        var remainingBytes = segments.reduce(Int64(0)) { $0 + $1.size }
        for (index, segment) in segments.enumerated() {
            // A segment's end is the next one's base offset (no need to load it), or the log end offset.
            let end = index + 1 < segments.count ? segments[index + 1].baseOffset : nextOffset
            guard end <= highWatermark, !segment.isEmpty || segment !== activeSegment else { break }
            var expired = end <= logStartOffset
            if config.cleanupPolicy.contains(.delete) {
                if config.retentionMs >= 0 {
                    try segment.load()
                    let largest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.createdAtMs
                    if nowMs - largest > config.retentionMs { expired = true }
                }
                if config.retentionBytes >= 0 && remainingBytes - segment.size >= config.retentionBytes { expired = true }
            }
            guard expired else { break }
            if index == segments.count - 1 {
                // Never delete the active segment under a writer or reader: roll to an empty one first.
                guard pending.isEmpty else { break }
                try roll(at: nextOffset, nowMs: nowMs)
            }
            candidates.append(segment)
            remainingBytes -= segment.size
        }
        return candidates
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
        logStartOffset = max(logStartOffset, segments[0].baseOffset)
        try? epochs.truncateFromStart(logStartOffset)
        // Keep the newest snapshot at or below the new start; older ones are useless.
        if let snapshots = try? producers.snapshotOffsets(), let keep = snapshots.last(where: { $0 <= segments[0].baseOffset }) {
            try? producers.deleteSnapshots(below: keep)
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
