// BrokerConfigDefinitions: the broker-level rows of the settings table.
import KafkaProtocol
import RunnelStorage

extension ConfigTable {
    private static func broker(
        _ name: String, _ type: ConfigType, _ defaultValue: ConfigValue?, _ validator: ConfigValidator,
        synonyms: [ConfigSynonym] = [], runnelOnly: Bool = false, _ documentation: String
    ) -> ConfigDefinition {
        ConfigDefinition(
            name, type, default: defaultValue, scope: .broker, validator: validator, synonyms: synonyms,
            runnelOnly: runnelOnly, documentation)
    }

    private static func broker(
        _ name: String, _ type: ConfigType, _ defaultValue: ConfigValue?, synonyms: [ConfigSynonym] = [],
        runnelOnly: Bool = false, _ documentation: String
    ) -> ConfigDefinition {
        broker(name, type, defaultValue, .none, synonyms: synonyms, runnelOnly: runnelOnly, documentation)
    }

    /// The default of the topic setting a broker setting is the default for (written once, on the topic row).
    private static func topicDefault(_ topicSetting: String) -> ConfigValue? {
        topicDefinitions.first { $0.name == topicSetting }?.defaultValue
    }

    /// Storage's defaults for the broker-level settings it acts on.
    private static let storageManagerDefaults = LogManagerConfiguration(logDirs: [])

    /// Broker settings. Names and defaults are Apache Kafka 4.x's except where the doc line says
    /// "Runnel:" (a single durable node on loopback needs a few different defaults).
    static let brokerDefinitions: [ConfigDefinition] = serverDefinitions + clusterDefinitions + logDefinitions + coordinatorDefinitions
        + securityDefinitions

    /// Cluster mode: where the metadata lives and how this broker registers (docs/operations.md).
    private static let clusterDefinitions: [ConfigDefinition] = [
        broker("metadata.store", .string, .string("local"), .oneOf(["local", "etcd"]), runnelOnly: true,
               "Where cluster metadata lives: `local` (a file in the first log dir; a single node, no etcd) or `etcd` (cluster mode)."),
        broker("etcd.endpoints", .list, .list(["http://127.0.0.1:2379"]), .nonEmptyList, runnelOnly: true,
               "etcd client URLs (http://host:port, comma-separated); calls fail over between them. Used when metadata.store=etcd."),
        broker("etcd.prefix", .string, .string("/runnel"), runnelOnly: true,
               "Key prefix of this cluster in etcd; clusters with different prefixes share one etcd without seeing each other."),
        broker("etcd.lease.ttl.ms", .long, .int(10_000), .atLeast(2000), runnelOnly: true,
               "TTL of the broker's etcd lease (whole seconds). A broker that cannot renew it for 3/4 of this stops acting as leader and controller; after the full TTL others take over."),
        broker("etcd.request.timeout.ms", .long, .int(5000), .atLeast(100), runnelOnly: true,
               "Longest one etcd call may take on one endpoint before failing over (reads) or failing (writes)."),
        broker("broker.rack", .string, nil, "Rack of this broker, published in its registration and in Metadata; new partitions' replicas are spread over racks when every broker has one."),
        broker("auto.leader.rebalance.enable", .boolean, .bool(true),
               "The controller gives leadership back to preferred replicas (the first of each replica list) when a broker's share of preferred partitions it does not lead exceeds leader.imbalance.per.broker.percentage."),
        broker("leader.imbalance.check.interval.seconds", .long, .int(300), .atLeast(1),
               "How often the controller checks the leader imbalance."),
        broker("leader.imbalance.per.broker.percentage", .int, .int(10), .atLeast(0),
               "The imbalance (percent of a broker's preferred partitions led by another broker) above which the controller elects preferred leaders."),
        broker("controlled.shutdown.enable", .boolean, .bool(true),
               "On SIGTERM in cluster mode, move this broker's leaderships to other ISR members before it unregisters."),
        broker("controlled.shutdown.timeout.ms", .long, .int(10_000), .atLeast(0), runnelOnly: true,
               "Longest a controlled shutdown waits for the controller to move this broker's leaderships before the broker shuts down anyway."),
    ]

    private static let serverDefinitions: [ConfigDefinition] = [
        broker("node.id", .int, .int(1), .atLeast(0), synonyms: [ConfigSynonym("broker.id")],
               "This broker's id. Runnel: defaults to 1 (Kafka requires it)."),
        broker("broker.id", .int, .int(-1), .atLeast(-1), "Legacy spelling of node.id."),
        broker("listeners", .list, .list(["PLAINTEXT://127.0.0.1:9092"]), .listeners,
               "Where to accept clients, NAME://host:port, comma-separated. Runnel: loopback by default."),
        broker("advertised.listeners", .list, nil, .listeners,
               "Addresses given to clients in Metadata responses; defaults to listeners."),
        broker("listener.security.protocol.map", .string,
               .string("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
               "Security protocol of each listener name."),
        broker("socket.request.max.bytes", .int, .int(104_857_600), .atLeast(1),
               "Largest request accepted; a larger size prefix closes the connection before anything is read."),
        broker("max.connections", .int, .int(Int64(Int32.max)), .atLeast(0),
               "Most open client connections; further connections are closed at once."),
        broker("max.connections.per.ip", .int, .int(Int64(Int32.max)), .atLeast(0),
               "Most open connections from one IP address."),
        broker("connections.max.idle.ms", .long, .int(600_000), .atLeast(1),
               "Close connections with no traffic (and no pending request) for this long."),
        broker("queued.max.requests", .int, .int(500), .atLeast(1),
               "Most requests queued across the broker (Kafka's request queue). Runnel: accepted, not enforced; each connection is bounded by queued.max.requests.per.connection."),
        broker("queued.max.requests.per.connection", .int, .int(64), .atLeast(1), runnelOnly: true,
               "Stop reading a connection while this many of its responses are outstanding."),
        broker("shutdown.timeout.ms", .long, .int(30_000), .atLeast(0), runnelOnly: true,
               "On SIGTERM, how long in-flight requests may take before connections are closed."),
        broker("io.engine", .string, .string(storageManagerDefaults.ioEngine.rawValue), .oneOf(["auto", "io_uring", "posix"]), runnelOnly: true,
               "Storage I/O engine; `auto` uses io_uring when the kernel allows it."),
        broker("io.syncfs.min.files", .int, .int(Int64(storageManagerDefaults.syncfsMinFiles)), .atLeast(0), runnelOnly: true,
               "A group commit that must fsync at least this many files of one log dir issues one syncfs of its file system instead; 0 disables."),
        broker("log.io.mode", .string, .string(storageManagerDefaults.logIOMode.rawValue), .oneOf(["auto", "direct", "buffered"]), runnelOnly: true,
               "How segment data is written: `direct` with O_DIRECT from an aligned tail buffer per partition, `buffered` through the page cache, `auto` direct where the log dir's file system accepts O_DIRECT (ext4, XFS) and buffered elsewhere (tmpfs). A log dir that cannot do `direct` stays offline."),
        broker("log.cache.max.bytes", .long, .int(Int64(storageManagerDefaults.logCacheMaxBytes)), .atLeast(0), runnelOnly: true,
               "Bytes of the direct write path's tail cache: the most recently written aligned buffers of active segments, shared by all partitions, least recently used evicted first. Fetches of bytes it holds are answered from memory instead of the disk; 0 disables it. Unused on buffered log dirs."),
        broker("metrics.listener", .string, .string("127.0.0.1:9644"), .hostPortOrEmpty, runnelOnly: true,
               "Host:port of the HTTP endpoint serving /metrics, /health and /ready; empty disables it."),
        broker("log.format", .string, .string("text"), .oneOf(["text", "json"]), runnelOnly: true,
               "Broker log lines on stderr: `text` (time level logger: message key=value) or `json` (one object per line)."),
        broker("console.read.only", .boolean, .bool(true), runnelOnly: true,
               "The web console on metrics.listener only shows; false adds its forms that create topics, change topic configs and reset groups' offsets."),
        broker("fetch.max.bytes", .int, .int(57_671_680), .atLeast(1024), "Most bytes one Fetch response returns."),
        broker("max.incremental.fetch.session.cache.slots", .int, .int(1000), .atLeast(0),
               "Most incremental fetch sessions (KIP-227) kept at once."),
        broker("replica.lag.time.max.ms", .long, .int(30_000), .atLeast(0),
               "A follower that has not caught up for this long leaves the ISR (cluster mode)."),
        broker("replica.fetch.max.bytes", .int, .int(1_048_576), .atLeast(0),
               "Bytes a follower fetches per partition per request (cluster mode)."),
        broker("replica.fetch.response.max.bytes", .int, .int(10_485_760), .atLeast(0),
               "Bytes a follower fetches per request over all partitions (cluster mode)."),
        broker("replica.fetch.wait.max.ms", .int, .int(500), .atLeast(0), "Longest a follower's fetch waits at the leader (cluster mode)."),
        broker("replica.fetch.backoff.ms", .int, .int(1000), .atLeast(0),
               "How long a follower waits before fetching a partition again after an error (cluster mode)."),
        broker("leader.replication.throttled.rate", .long, .int(Int64.max), .atLeast(1),
               "Bytes per second a leader sends, over all partitions, to replicas catching up in a reassignment (cluster mode). Runnel: applies to every adding replica of a reassignment (Kafka: to the replicas the topic's leader.replication.throttled.replicas lists); a static setting."),
        broker("follower.replication.throttled.rate", .long, .int(Int64.max), .atLeast(1),
               "Bytes per second a follower fetches, over all partitions, for the partitions it is being added to by a reassignment (cluster mode). Runnel: applies to every partition this broker is an adding replica of (Kafka: to the replicas the topic's follower.replication.throttled.replicas lists); a static setting."),
        broker("num.replica.fetchers", .int, .int(1), .atLeast(1), "Follower fetcher threads per source broker. Runnel: one fetch loop per source broker."),
        broker("num.partitions", .int, .int(1), .atLeast(1), "Partitions of an auto-created topic."),
        broker("default.replication.factor", .int, .int(1), .atLeast(1), "Replicas of an auto-created topic."),
        broker("auto.create.topics.enable", .boolean, .bool(true),
               "Create a topic when a client produces to or fetches metadata for an unknown one."),
        broker("delete.topic.enable", .boolean, .bool(true), "Allow DeleteTopics."),
    ]

    private static let logDefinitions: [ConfigDefinition] = [
        broker("log.dirs", .list, nil, .nonEmptyList, synonyms: [ConfigSynonym("log.dir")],
               "Directories holding partition data; defaults to log.dir."),
        broker("log.dir", .string, .string("./data"), "Directory holding partition data. Runnel: ./data."),
        broker("num.recovery.threads.per.data.dir", .int, .int(2), .atLeast(1),
               "Threads recovering logs at startup, per log dir. Runnel: no effect; logs open lazily and each is recovered when first used."),
        broker("log.cleanup.policy", .list, .list(["delete"]), .listOf(["delete", "compact"]),
               "Default cleanup.policy."),
        broker("compression.type", .string, topicDefault("compression.type"), .oneOf(compressionTypes), "Default compression.type."),
        broker("compression.gzip.level", .int, topicDefault("compression.gzip.level"), .between(-1, 9), "Default compression.gzip.level."),
        broker("compression.lz4.level", .int, topicDefault("compression.lz4.level"), .between(1, 17), "Default compression.lz4.level."),
        broker("compression.zstd.level", .int, topicDefault("compression.zstd.level"), .between(-131_072, 22), "Default compression.zstd.level."),
        broker("log.cleaner.enable", .boolean, .bool(true), "Run the log cleaner (needed for compacted topics)."),
        broker("log.cleaner.threads", .int, .int(1), .atLeast(0),
               "Log cleaner threads. Runnel: one cleaner pass on the storage scheduler thread; 0 disables it."),
        broker("log.cleaner.backoff.ms", .long, .int(storageManagerDefaults.cleanerBackoffMs), .atLeast(0),
               "How long the cleaner waits between looks for compactable logs (checked on each storage scheduler tick)."),
        broker("log.cleaner.delete.retention.ms", .long, .int(storageDefaults.deleteRetentionMs), .atLeast(0),
               "Default delete.retention.ms."),
        broker("log.cleaner.min.cleanable.ratio", .double, .double(storageDefaults.minCleanableDirtyRatio), .doubleBetween(0, 1),
               "Default min.cleanable.dirty.ratio."),
        broker("log.cleaner.min.compaction.lag.ms", .long, .int(storageDefaults.minCompactionLagMs), .atLeast(0), "Default min.compaction.lag.ms."),
        broker("log.cleaner.max.compaction.lag.ms", .long, topicDefault("max.compaction.lag.ms"), .atLeast(1), "Default max.compaction.lag.ms."),
        broker("log.segment.delete.delay.ms", .long, .int(storageDefaults.fileDeleteDelayMs), .atLeast(0), "Default file.delete.delay.ms."),
        broker("log.flush.interval.messages", .long, .int(storageDefaults.flushMessages), .atLeast(1),
               "Default flush.messages (Runnel: 1, durable acknowledgement; Kafka: Long.MAX)."),
        broker("log.flush.interval.ms", .long, nil, "Default flush.ms; unset means log.flush.scheduler.interval.ms."),
        broker("log.flush.scheduler.interval.ms", .long, longMax, .atLeast(10),
               "How often the flusher checks logs for flush.ms. Runnel: the storage scheduler also deletes `.deleted` files and runs retention and the cleaner, so it ticks at least every second."),
        broker("log.flush.offset.checkpoint.interval.ms", .int, .int(storageManagerDefaults.checkpointIntervalMs), .atLeast(0),
               "How often the recovery point checkpoint is written."),
        broker("log.index.interval.bytes", .int, .int(Int64(storageDefaults.indexIntervalBytes)), .atLeast(0), "Default index.interval.bytes."),
        broker("log.index.size.max.bytes", .int, .int(Int64(storageDefaults.segmentIndexBytes)), .atLeast(4), "Default segment.index.bytes."),
        broker("message.max.bytes", .int, .int(Int64(storageDefaults.maxMessageBytes)), .atLeast(0), "Default max.message.bytes."),
        broker("log.message.timestamp.type", .string, topicDefault("message.timestamp.type"), .oneOf(timestampTypes),
               "Default message.timestamp.type."),
        broker("log.message.timestamp.before.max.ms", .long, topicDefault("message.timestamp.before.max.ms"), .atLeast(0),
               "Default message.timestamp.before.max.ms."),
        broker("log.message.timestamp.after.max.ms", .long, topicDefault("message.timestamp.after.max.ms"), .atLeast(0),
               "Default message.timestamp.after.max.ms."),
        broker("min.insync.replicas", .int, topicDefault("min.insync.replicas"), .atLeast(1), "Default min.insync.replicas."),
        broker("log.preallocate", .boolean, topicDefault("preallocate"), "Default preallocate."),
        broker("log.retention.bytes", .long, .int(storageDefaults.retentionBytes), "Default retention.bytes."),
        broker("log.retention.ms", .long, nil, .atLeast(-1),
               synonyms: [ConfigSynonym("log.retention.minutes", multiplier: 60_000),
                          ConfigSynonym("log.retention.hours", multiplier: 3_600_000)],
               "Default retention.ms; unset means log.retention.minutes, then log.retention.hours."),
        broker("log.retention.minutes", .int, nil, synonyms: [ConfigSynonym("log.retention.hours", multiplier: 60)],
               "Default retention in minutes; unset means log.retention.hours."),
        broker("log.retention.hours", .int, .int(168), "Default retention in hours."),
        broker("log.retention.check.interval.ms", .long, .int(storageManagerDefaults.retentionCheckIntervalMs), .atLeast(1),
               "How often retention is applied."),
        broker("log.segment.bytes", .int, .int(Int64(storageDefaults.segmentBytes)), .atLeast(1_048_576), "Default segment.bytes."),
        broker("log.roll.ms", .long, nil, synonyms: [ConfigSynonym("log.roll.hours", multiplier: 3_600_000)],
               "Default segment.ms; unset means log.roll.hours."),
        broker("log.roll.hours", .int, .int(168), .atLeast(1), "Default segment rolling time in hours."),
        broker("log.roll.jitter.ms", .long, nil, synonyms: [ConfigSynonym("log.roll.jitter.hours", multiplier: 3_600_000)],
               "Default segment.jitter.ms; unset means log.roll.jitter.hours."),
        broker("log.roll.jitter.hours", .int, .int(0), .atLeast(0), "Default segment jitter in hours."),
        broker("unclean.leader.election.enable", .boolean, topicDefault("unclean.leader.election.enable"), "Default unclean.leader.election.enable."),
    ]

    private static let coordinatorDefinitions: [ConfigDefinition] = [
        broker("offsets.topic.num.partitions", .int, .int(50), .atLeast(1), "Partitions of __consumer_offsets."),
        broker("offsets.topic.replication.factor", .short, .int(3), .atLeast(1),
               "Replicas of __consumer_offsets in cluster mode (created on first use, once this many brokers are registered). A single node uses 1."),
        broker("offsets.topic.segment.bytes", .int, .int(104_857_600), .atLeast(1),
               "segment.bytes of __consumer_offsets."),
        broker("offsets.retention.minutes", .int, .int(10_080), .atLeast(1),
               "Committed offsets of an empty group are dropped after this long."),
        broker("offsets.retention.check.interval.ms", .long, .int(600_000), .atLeast(1),
               "How often stale offsets are looked for."),
        broker("offsets.commit.timeout.ms", .int, .int(5000), .atLeast(1),
               "Longest an offset commit waits for its append. Runnel: no effect; a commit is answered when its durable append completes."),
        broker("group.min.session.timeout.ms", .int, .int(6000), "Smallest session timeout a member may ask for."),
        broker("group.max.session.timeout.ms", .int, .int(1_800_000), "Largest session timeout a member may ask for."),
        broker("group.initial.rebalance.delay.ms", .int, .int(3000),
               "Wait for more members before the first rebalance of an empty group."),
        broker("group.max.size", .int, .int(Int64(Int32.max)), .atLeast(1), "Most members in one group."),
        broker("offset.metadata.max.bytes", .int, .int(4096), .atLeast(0),
               "Longest metadata string an offset commit may carry."),
        broker("transaction.state.log.num.partitions", .int, .int(50), .atLeast(1),
               "Partitions of __transaction_state (created at first start)."),
        broker("transaction.state.log.replication.factor", .short, .int(3), .atLeast(1),
               "Replicas of __transaction_state in cluster mode (created on first use, once this many brokers are registered). A single node uses 1."),
        broker("transaction.state.log.min.isr", .int, .int(2), .atLeast(1), "min.insync.replicas of __transaction_state (cluster mode; capped by its replication factor)."),
        broker("transaction.state.log.segment.bytes", .int, .int(104_857_600), .atLeast(1),
               "segment.bytes of __transaction_state."),
        broker("transaction.max.timeout.ms", .int, .int(900_000), .atLeast(1),
               "Largest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT beyond it)."),
        broker("transactional.id.expiration.ms", .int, .int(storageDefaults.transactionalIdExpirationMs), .atLeast(1),
               "Forget a transactional id after this long without a transaction."),
        broker("transaction.abort.timed.out.transaction.cleanup.interval.ms", .int, .int(10_000), .atLeast(1),
               "How often timed-out transactions are aborted."),
        broker("transaction.remove.expired.transaction.cleanup.interval.ms", .int, .int(3_600_000), .atLeast(1),
               "How often transactional ids idle for transactional.id.expiration.ms are removed."),
        broker("producer.id.expiration.ms", .int, .int(storageDefaults.producerIdExpirationMs), .atLeast(1),
               "Forget an idle producer id's sequence state after this long."),
    ]
}
