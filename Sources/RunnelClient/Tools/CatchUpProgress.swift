// CatchUpProgress: how far a consumer group is from target offsets — records left, rate and ETA per
// partition and in total — computed from successive samples of its committed offsets.
import KafkaProtocol

/// Tracks a group's committed offsets against fixed end offsets (what `runnel replay --wait-caught-up`
/// prints each second). Rates come from the samples of the last `window` seconds, so one slow poll
/// does not swing the estimate.
public struct CatchUpProgress: Sendable {
    /// Where a partition stands at the latest sample.
    public struct PartitionStatus: Sendable, Codable, Equatable {
        public var topic: String
        public var partition: Int32
        /// The committed offset; nil when the group has none for the partition.
        public var committed: Int64?
        public var end: Int64
        public var left: Int64
        /// Records per second over the window (0 before two samples).
        public var rate: Double
        /// Seconds until caught up at `rate`; 0 when caught up, nil when `rate` is 0.
        public var etaSeconds: Double?
    }

    /// The whole group at the latest sample.
    public struct Status: Sendable, Codable, Equatable {
        public var left: Int64
        public var rate: Double
        public var etaSeconds: Double?
        public var caughtUp: Bool
        public var partitions: [PartitionStatus]
    }

    /// The offsets the group must reach (exclusive ends: caught up when committed >= end).
    public let endOffsets: [TopicPartition: Int64]
    /// How far back rates look.
    public let window: Duration
    private var samples: [(time: ContinuousClock.Instant, committed: [TopicPartition: Int64])] = []

    public init(endOffsets: [TopicPartition: Int64], window: Duration = .seconds(10)) {
        self.endOffsets = endOffsets
        self.window = window
    }

    /// Records a sample of committed offsets taken at `time` and returns the status it gives.
    public mutating func record(_ committed: [TopicPartition: Int64], at time: ContinuousClock.Instant) -> Status {
        samples.append((time, committed))
        while samples.count > 2, let first = samples.first, time - first.time > window { samples.removeFirst() }
        let oldest = samples[0]
        let elapsed = Double((time - oldest.time).components.seconds)
            + Double((time - oldest.time).components.attoseconds) / 1e18
        var partitions: [PartitionStatus] = []
        for (topicPartition, end) in endOffsets.sorted(by: { $0.key < $1.key }) {
            let now = committed[topicPartition]
            let left = max(0, end - (now ?? 0))
            var rate = 0.0
            if elapsed > 0, let now, let then = oldest.committed[topicPartition] {
                rate = max(0, Double(now - then) / elapsed)
            }
            partitions.append(PartitionStatus(topic: topicPartition.topic, partition: topicPartition.partition,
                                              committed: now, end: end, left: left, rate: rate,
                                              etaSeconds: Self.eta(left: left, rate: rate)))
        }
        let left = partitions.reduce(0) { $0 + $1.left }
        let rate = partitions.reduce(0) { $0 + $1.rate }
        let caughtUp = partitions.allSatisfy { ($0.committed ?? -1) >= $0.end }
        return Status(left: left, rate: rate, etaSeconds: Self.eta(left: left, rate: rate), caughtUp: caughtUp,
                      partitions: partitions)
    }

    private static func eta(left: Int64, rate: Double) -> Double? {
        if left == 0 { return 0 }
        return rate > 0 ? Double(left) / rate : nil
    }
}
