// Consumer settings under Kafka's names: fetch sizes and waits, isolation level, offset reset, group.
import KafkaProtocol

/// Kafka's `auto.offset.reset`: where to start when there is no valid position.
public enum OffsetResetStrategy: String, Sendable, Codable {
    case earliest, latest, none
}

/// Kafka's `partition.assignment.strategy` choices this consumer implements.
public enum PartitionAssignmentStrategy: String, Sendable, Codable, CaseIterable {
    /// Eager rebalancing: every member gives up all partitions when a rebalance starts.
    case range
    /// Incremental cooperative rebalancing (KIP-429): members keep consuming the partitions they retain;
    /// only partitions that move are revoked, and they are assigned in a follow-up rebalance.
    case cooperativeSticky = "cooperative-sticky"

    /// The protocol name advertised in JoinGroup.
    public var protocolName: String { rawValue }
}

/// Settings of a `KafkaConsumer`. Defaults follow the Java client.
public struct ConsumerConfiguration: Sendable {
    /// `group.id`; nil for a consumer that only uses `assign`.
    public var groupId: String?
    /// `isolation.level` (default read_uncommitted).
    public var isolationLevel: IsolationLevel = .readUncommitted
    /// `fetch.max.wait.ms` (default 500 ms).
    public var fetchMaxWaitMilliseconds: Int32 = 500
    /// `fetch.min.bytes` (default 1).
    public var fetchMinBytes: Int32 = 1
    /// `fetch.max.bytes` (default 50 MiB).
    public var fetchMaxBytes: Int32 = 52_428_800
    /// `max.partition.fetch.bytes` (default 1 MiB).
    public var maxPartitionFetchBytes: Int32 = 1_048_576
    /// `auto.offset.reset` (default latest).
    public var autoOffsetReset: OffsetResetStrategy = .latest
    /// `enable.auto.commit` for group consumers (default true).
    public var enableAutoCommit = true
    /// `auto.commit.interval.ms` (default 5 s).
    public var autoCommitInterval: Duration = .seconds(5)
    /// `session.timeout.ms` (default 45 s).
    public var sessionTimeoutMilliseconds: Int32 = 45_000
    /// `max.poll.interval.ms`, sent as the rebalance timeout (default 300 s).
    public var rebalanceTimeoutMilliseconds: Int32 = 300_000
    /// `heartbeat.interval.ms` (default 3 s).
    public var heartbeatInterval: Duration = .seconds(3)
    /// `partition.assignment.strategy` (default range; the Java client's default list starts with range).
    public var partitionAssignmentStrategy: PartitionAssignmentStrategy = .range
    /// `check.crcs`: verify each fetched batch's CRC-32C (default true).
    public var checkCRCs = true

    /// The Java client's defaults.
    public init() {}
}
