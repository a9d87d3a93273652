// PartitionLog+Metrics: one consistent reading of a partition's offsets and size, for /metrics.
import Synchronization

/// A partition's offsets and on-disk size at one instant (taken under the partition lock once).
public struct PartitionLogSnapshot: Sendable, Equatable {
    public var logStartOffset: Int64
    public var logEndOffset: Int64
    public var highWatermark: Int64
    public var lastStableOffset: Int64
    /// Bytes of every segment's data file.
    public var sizeBytes: Int64
    public var segments: Int
    /// Bytes (as `.log` data, before any compression at rest) and count of the segments in the remote tier.
    public var remoteSizeBytes: Int64 = 0
    public var remoteSegments: Int = 0
}

extension PartitionLog {
    /// The partition's offsets and size, read under one lock acquisition (a scrape walks every
    /// partition: one lock each, no I/O).
    public var snapshot: PartitionLogSnapshot {
        state.withLock { state in
            PartitionLogSnapshot(logStartOffset: state.logStartOffset, logEndOffset: state.local.logEndOffset,
                                 highWatermark: state.highWatermark, lastStableOffset: state.lastStableOffset,
                                 sizeBytes: state.local.size, segments: state.local.segments.count,
                                 remoteSizeBytes: state.tier.size, remoteSegments: state.tier.segments.count)
        }
    }
}
