// BrokerSettings: the broker-wide settings handlers read on every request, resolved once from the
// configuration (defaults from the settings table).
import Foundation

/// Broker-wide settings the handlers need, resolved once from the configuration.
struct BrokerSettings: Sendable {
    /// `node.id`.
    var nodeId: Int32
    /// The host clients are told to connect to (first advertised listener; this machine's name when
    /// that listener binds every interface).
    var advertisedHost: String
    /// The port of the first advertised listener.
    var advertisedPort: Int32
    /// `auto.create.topics.enable`.
    var autoCreateTopics: Bool
    /// `num.partitions`: partitions of an auto-created topic (or a CreateTopics asking for -1).
    var defaultPartitions: Int32
    /// `default.replication.factor`.
    var defaultReplicationFactor: Int16
    /// `fetch.max.bytes`: the most one Fetch may ask for, whatever the client's own `fetch.max.bytes`.
    var fetchMaxBytesCap: Int32
    /// `max.incremental.fetch.session.cache.slots`.
    var fetchSessionCacheSlots: Int
    /// `delete.topic.enable`: false answers DeleteTopics with TOPIC_DELETION_DISABLED (INVALID_REQUEST before v3).
    var deleteTopicEnable: Bool
    /// Follower fetch settings (`replica.fetch.*`; cluster mode).
    var replicaFetch: ReplicaFetchSettings
    /// `leader.replication.throttled.rate` (bytes/s to replicas catching up in a reassignment).
    var leaderReplicationThrottledRate: Int64
    /// `replica.lag.time.max.ms`.
    var replicaLagTimeMaxMs: Int64
    /// The internal topics' partitions, replication factors and settings (cluster mode creates them on
    /// first use).
    var internalTopics: InternalTopicSettings
    /// `transaction.version`: the finalized feature level ApiVersions v3+ reports.
    var transactionVersion: Int16
    /// ApiVersions' finalized features epoch: when this broker started (ms), so a level changed across a
    /// restart reaches clients as a newer epoch.
    var finalizedFeaturesEpoch: Int64

    /// The settings as configured.
    init(_ config: BrokerConfig) {
        let advertised = config.advertisedListeners.first ?? config.listeners.first
        var host = advertised?.host ?? "127.0.0.1"
        if host.isEmpty || host == "0.0.0.0" { host = ProcessInfo.processInfo.hostName }
        nodeId = config.nodeId
        advertisedHost = host
        advertisedPort = Int32(clamping: advertised?.port ?? 9092)
        autoCreateTopics = config.bool(.autoCreateTopicsEnable)
        defaultPartitions = config.int32(.numPartitions)
        defaultReplicationFactor = Int16(clamping: config.int(.defaultReplicationFactor))
        fetchMaxBytesCap = config.int32(.fetchMaxBytes)
        fetchSessionCacheSlots = Int(config.int(.maxIncrementalFetchSessionCacheSlots))
        deleteTopicEnable = config.bool(.deleteTopicEnable)
        replicaFetch = ReplicaFetchSettings(maxWaitMs: config.int32(.replicaFetchWaitMaxMs),
                                            maxBytesPerPartition: config.int32(.replicaFetchMaxBytes),
                                            maxBytes: config.int32(.replicaFetchResponseMaxBytes),
                                            backoff: .milliseconds(config.int(.replicaFetchBackoffMs)),
                                            fetchersPerLeader: Int(max(config.int(.numReplicaFetchers), 1)),
                                            followerThrottledRate: config.int(.followerReplicationThrottledRate),
                                            link: InterBrokerLink(config))
        leaderReplicationThrottledRate = config.int(.leaderReplicationThrottledRate)
        replicaLagTimeMaxMs = config.int(.replicaLagTimeMaxMs)
        transactionVersion = Int16(clamping: config.int(.transactionVersion))
        finalizedFeaturesEpoch = Int64(Date().timeIntervalSince1970 * 1000)
        internalTopics = InternalTopicSettings(
            offsetsPartitions: config.int32(.offsetsTopicNumPartitions),
            offsetsReplicationFactor: Int16(clamping: config.int(.offsetsTopicReplicationFactor)),
            offsetsSegmentBytes: config.int(.offsetsTopicSegmentBytes),
            transactionPartitions: config.int32(.transactionStateLogNumPartitions),
            transactionReplicationFactor: Int16(clamping: config.int(.transactionStateLogReplicationFactor)),
            transactionSegmentBytes: config.int(.transactionStateLogSegmentBytes),
            transactionMinIsr: config.int32(.transactionStateLogMinIsr))
    }
}
