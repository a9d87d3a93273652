// GroupCoordinatorConfig: the group coordinator's settings, under Kafka's broker property names.

/// Settings of the classic group coordinator and of the offsets it stores in `__consumer_offsets`.
/// Every Kafka setting is given by the broker, from its configuration (defaults live in its settings
/// table, not here); only the coordinator's own timings that are not Kafka settings have values here.
public struct GroupCoordinatorConfig: Sendable, Equatable {
    /// `group.min.session.timeout.ms`: the shortest session timeout a member may ask for.
    public var minSessionTimeoutMs: Int32
    /// `group.max.session.timeout.ms`: the longest session timeout a member may ask for.
    public var maxSessionTimeoutMs: Int32
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits for more
    /// members before it completes (extended by the same delay per join, up to the rebalance timeout).
    public var initialRebalanceDelayMs: Int32
    /// `group.max.size`: the most members one group may hold.
    public var maxSize: Int32
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`; fixes each group's coordinator.
    public var offsetsTopicPartitions: Int32
    /// `offsets.retention.minutes`: how long committed offsets outlive their group becoming empty.
    public var offsetsRetentionMinutes: Int64
    /// `offsets.retention.check.interval.ms`: how often expired offsets are looked for.
    public var offsetsRetentionCheckIntervalMs: Int64
    /// `offset.metadata.max.bytes`: the longest metadata string an offset commit may carry.
    public var offsetMetadataMaxBytes: Int32
    /// How long a member that joined for the first time (KIP-345's "new member") may take to rejoin
    /// before it is removed; Kafka's fixed `GroupCoordinator.NewMemberJoinTimeoutMs` (5 minutes).
    public var newMemberJoinTimeoutMs: Int32 = 300_000
    /// How often the coordinator's timer looks for expired sessions and rebalance deadlines. Not a Kafka
    /// setting: Kafka's purgatory is exact; a short tick bounds the error the same way.
    public var timerTickMs: Int64 = 50

    /// `offsets.retention.minutes` in milliseconds.
    public var offsetsRetentionMs: Int64 { offsetsRetentionMinutes * 60_000 }

    /// Settings with the given Kafka settings; the broker reads each from its configuration.
    public init(minSessionTimeoutMs: Int32, maxSessionTimeoutMs: Int32, initialRebalanceDelayMs: Int32, maxSize: Int32,
                offsetsTopicPartitions: Int32, offsetsRetentionMinutes: Int64, offsetsRetentionCheckIntervalMs: Int64,
                offsetMetadataMaxBytes: Int32) {
        self.minSessionTimeoutMs = minSessionTimeoutMs
        self.maxSessionTimeoutMs = maxSessionTimeoutMs
        self.initialRebalanceDelayMs = initialRebalanceDelayMs
        self.maxSize = maxSize
        self.offsetsTopicPartitions = offsetsTopicPartitions
        self.offsetsRetentionMinutes = offsetsRetentionMinutes
        self.offsetsRetentionCheckIntervalMs = offsetsRetentionCheckIntervalMs
        self.offsetMetadataMaxBytes = offsetMetadataMaxBytes
    }
}
