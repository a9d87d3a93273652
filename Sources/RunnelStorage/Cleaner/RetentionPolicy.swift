// RetentionPolicy: which segments retention may delete — by retention.ms (largest timestamp),
// retention.bytes (partition size) and the log start offset (DeleteRecords) — oldest first, only
// segments wholly below the high watermark. An expired active segment is first rolled away (through the
// engine, like any roll) so the active segment is never deleted under a writer.
import KafkaRecords

/// Kafka's retention rules over a partition log's state.
enum RetentionPolicy {
    /// The segments to delete now, oldest first. May roll the active segment.
    static func candidates(_ s: PartitionLogState, nowMs: Int64) throws(StorageError) -> [LogSegment] {
        let local = s.local
        let config = s.config
        var candidates: [LogSegment] = []
        var remainingBytes = local.size
        for (index, segment) in local.segments.enumerated() {
            // A segment's end is the next one's base offset (no need to load it), or the log end offset.
            let end = index + 1 < local.segments.count ? local.segments[index + 1].baseOffset : local.nextOffset
            guard end <= s.highWatermark, !segment.isEmpty || segment !== local.activeSegment else { break }
            var expired = end <= s.logStartOffset
            if config.cleanupPolicy.contains(.delete) {
                if config.retentionMs >= 0 {
                    try segment.load()
                    let largest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.createdAtMs
                    if nowMs - largest > config.retentionMs { expired = true }
                }
                if config.retentionBytes >= 0 && remainingBytes - segment.size >= config.retentionBytes { expired = true }
            }
            guard expired else { break }
            if index == local.segments.count - 1 {
                // Never delete the active segment under a writer or reader: roll to an empty one first.
                guard local.inFlight.isEmpty else { break }
                try local.roll(at: local.nextOffset, nowMs: nowMs)
                s.producers.mapEndOffset = local.nextOffset
                try s.producers.writeSnapshot()
            }
            candidates.append(segment)
            remainingBytes -= segment.size
        }
        return candidates
    }
}
