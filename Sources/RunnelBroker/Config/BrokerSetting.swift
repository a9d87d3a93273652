// BrokerSetting: the broker settings the broker itself reads, by Kafka name, and their typed values.
// The defaults come from the settings table (BrokerConfigDefinitions), never from a second literal.
import NIOCore

/// A broker setting the broker reads, named as in Kafka. Every case resolves to a value in a default
/// configuration (its own table default or a synonym's); `BrokerConfigTests` proves it for every case.
enum BrokerSetting: String, CaseIterable, Sendable {
    // Server
    case nodeId = "node.id"
    case listeners = "listeners"
    case socketRequestMaxBytes = "socket.request.max.bytes"
    case maxConnections = "max.connections"
    case maxConnectionsPerIP = "max.connections.per.ip"
    case connectionsMaxIdleMs = "connections.max.idle.ms"
    case queuedMaxRequestsPerConnection = "queued.max.requests.per.connection"
    case shutdownTimeoutMs = "shutdown.timeout.ms"
    case metricsListener = "metrics.listener"
    case logFormat = "log.format"
    case consoleReadOnly = "console.read.only"
    case metricsListenerMaxRequestsPerSecond = "metrics.listener.max.requests.per.second"
    case fetchMaxBytes = "fetch.max.bytes"
    case maxIncrementalFetchSessionCacheSlots = "max.incremental.fetch.session.cache.slots"
    case numPartitions = "num.partitions"
    case defaultReplicationFactor = "default.replication.factor"
    case autoCreateTopicsEnable = "auto.create.topics.enable"
    case deleteTopicEnable = "delete.topic.enable"
    // Cluster mode
    case metadataStore = "metadata.store"
    case etcdEndpoints = "etcd.endpoints"
    case etcdPrefix = "etcd.prefix"
    case etcdLeaseTtlMs = "etcd.lease.ttl.ms"
    case etcdRequestTimeoutMs = "etcd.request.timeout.ms"
    case autoLeaderRebalanceEnable = "auto.leader.rebalance.enable"
    case leaderImbalanceCheckIntervalSeconds = "leader.imbalance.check.interval.seconds"
    case leaderImbalancePerBrokerPercentage = "leader.imbalance.per.broker.percentage"
    case controlledShutdownEnable = "controlled.shutdown.enable"
    case controlledShutdownTimeoutMs = "controlled.shutdown.timeout.ms"
    // Storage
    case logDirs = "log.dirs"
    case ioEngine = "io.engine"
    case ioSyncfsMinFiles = "io.syncfs.min.files"
    case ioSyncWorkers = "io.sync.workers"
    case logIOMode = "log.io.mode"
    case logIODirectSync = "log.io.direct.sync"
    case remoteLogDir = "remote.log.dir"
    case remoteLogManagerCopyMaxBytesPerSecond = "remote.log.manager.copy.max.bytes.per.second"
    case segmentCompressionAtRest = "runnel.segment.compression.at.rest"
    case logCacheMaxBytes = "log.cache.max.bytes"
    case logColdReadMaxBytes = "log.cold.read.max.bytes"
    case logDeleteChunkBytes = "log.delete.chunk.bytes"
    case logDeleteChunkIntervalMs = "log.delete.chunk.interval.ms"
    case logRetentionCheckIntervalMs = "log.retention.check.interval.ms"
    case logCleanerEnable = "log.cleaner.enable"
    case logCleanerThreads = "log.cleaner.threads"
    case logCleanerIOMaxBytesPerSecond = "log.cleaner.io.max.bytes.per.second"
    case logCleanerBackoffMs = "log.cleaner.backoff.ms"
    case logFlushOffsetCheckpointIntervalMs = "log.flush.offset.checkpoint.interval.ms"
    case logFlushSchedulerIntervalMs = "log.flush.scheduler.interval.ms"
    case producerIdExpirationMs = "producer.id.expiration.ms"
    case transactionalIdExpirationMs = "transactional.id.expiration.ms"
    // Group coordinator
    case offsetsTopicNumPartitions = "offsets.topic.num.partitions"
    case offsetsTopicSegmentBytes = "offsets.topic.segment.bytes"
    case offsetsRetentionMinutes = "offsets.retention.minutes"
    case offsetsRetentionCheckIntervalMs = "offsets.retention.check.interval.ms"
    case offsetMetadataMaxBytes = "offset.metadata.max.bytes"
    case groupMinSessionTimeoutMs = "group.min.session.timeout.ms"
    case groupMaxSessionTimeoutMs = "group.max.session.timeout.ms"
    case groupInitialRebalanceDelayMs = "group.initial.rebalance.delay.ms"
    case groupMaxSize = "group.max.size"
    // Transaction coordinator
    case transactionStateLogNumPartitions = "transaction.state.log.num.partitions"
    case transactionStateLogSegmentBytes = "transaction.state.log.segment.bytes"
    case transactionMaxTimeoutMs = "transaction.max.timeout.ms"
    case transactionVersion = "transaction.version"
    case transactionAbortTimedOutCleanupIntervalMs = "transaction.abort.timed.out.transaction.cleanup.interval.ms"
    case transactionRemoveExpiredCleanupIntervalMs = "transaction.remove.expired.transaction.cleanup.interval.ms"
    // Replication (cluster mode)
    case replicaLagTimeMaxMs = "replica.lag.time.max.ms"
    case replicaFetchMaxBytes = "replica.fetch.max.bytes"
    case replicaFetchResponseMaxBytes = "replica.fetch.response.max.bytes"
    case replicaFetchWaitMaxMs = "replica.fetch.wait.max.ms"
    case replicaFetchBackoffMs = "replica.fetch.backoff.ms"
    case numReplicaFetchers = "num.replica.fetchers"
    case leaderReplicationThrottledRate = "leader.replication.throttled.rate"
    case followerReplicationThrottledRate = "follower.replication.throttled.rate"
    case offsetsTopicReplicationFactor = "offsets.topic.replication.factor"
    case transactionStateLogReplicationFactor = "transaction.state.log.replication.factor"
    case transactionStateLogMinIsr = "transaction.state.log.min.isr"

    /// Kafka's name for the setting.
    var name: String { rawValue }
}

extension BrokerConfig {
    // The neutral values after `??` are never reached: every `BrokerSetting` resolves (see its doc).

    /// The effective value of an integer setting (int, short or long).
    func int(_ setting: BrokerSetting) -> Int64 { self[setting.name]?.intValue ?? 0 }

    /// The effective value of an integer setting, clamped to `Int32`.
    func int32(_ setting: BrokerSetting) -> Int32 { Int32(clamping: int(setting)) }

    /// The effective value of a millisecond setting as a duration.
    func milliseconds(_ setting: BrokerSetting) -> TimeAmount { .milliseconds(int(setting)) }

    /// The effective value of a numeric setting as a double.
    func double(_ setting: BrokerSetting) -> Double { self[setting.name]?.doubleValue ?? 0 }

    /// The effective value of a boolean setting.
    func bool(_ setting: BrokerSetting) -> Bool { self[setting.name]?.boolValue ?? false }

    /// The effective value of a string setting.
    func string(_ setting: BrokerSetting) -> String { self[setting.name]?.stringValue ?? "" }

    /// The effective value of a list setting (a single string is a one-element list).
    func list(_ setting: BrokerSetting) -> [String] { self[setting.name]?.listValue ?? [] }
}
