// TopicConfigDefinitions: the topic-level rows of the settings table, with their broker synonyms.
// Settings storage acts on take their defaults from storage's own (`LogConfig()`), so each value is
// written once.
import RunnelStorage

extension ConfigTable {
    static let longMax = ConfigValue.int(Int64.max)
    /// Storage's defaults for the settings it acts on (Kafka's, and Runnel's durable flush.messages).
    static let storageDefaults = LogConfig()
    static let compressionTypes = ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]
    static let timestampTypes = ["CreateTime", "LogAppendTime"]

    /// Topic settings: overridable per topic; otherwise the first broker synonym that is set
    /// applies, otherwise the default. Names, types and defaults are Apache Kafka 4.x's.
    static let topicDefinitions: [ConfigDefinition] = [
        ConfigDefinition(
            "cleanup.policy", .list, default: .list(["delete"]), scope: .topic,
            validator: .listOf(["delete", "compact"]), synonyms: [ConfigSynonym("log.cleanup.policy")],
            "What happens to old segments: `delete` (retention), `compact` (keep the latest record per key), or both."),
        ConfigDefinition(
            "compression.type", .string, default: .string("producer"), scope: .topic,
            validator: .oneOf(compressionTypes), synonyms: [ConfigSynonym("compression.type")],
            "Codec batches are stored with: `producer` keeps the producer's codec byte for byte; any other value makes the broker recompress batches sent with a different codec."),
        ConfigDefinition(
            "compression.gzip.level", .int, default: .int(-1), scope: .topic, validator: .between(-1, 9),
            synonyms: [ConfigSynonym("compression.gzip.level")], "gzip level when the broker recompresses."),
        ConfigDefinition(
            "compression.lz4.level", .int, default: .int(9), scope: .topic, validator: .between(1, 17),
            synonyms: [ConfigSynonym("compression.lz4.level")], "lz4 level when the broker recompresses."),
        ConfigDefinition(
            "compression.zstd.level", .int, default: .int(3), scope: .topic, validator: .between(-131_072, 22),
            synonyms: [ConfigSynonym("compression.zstd.level")], "zstd level when the broker recompresses."),
        ConfigDefinition(
            "delete.retention.ms", .long, default: .int(storageDefaults.deleteRetentionMs), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.cleaner.delete.retention.ms")],
            "How long tombstones are kept in a compacted topic."),
        ConfigDefinition(
            "file.delete.delay.ms", .long, default: .int(storageDefaults.fileDeleteDelayMs), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.segment.delete.delay.ms")],
            "Wait before deleting a removed segment's files (in-flight reads may still use them)."),
        ConfigDefinition(
            "flush.messages", .long, default: .int(storageDefaults.flushMessages), scope: .topic, validator: .atLeast(1),
            synonyms: [ConfigSynonym("log.flush.interval.messages")],
            "Fsync after this many messages; 1 (Runnel's default) acknowledges only durable writes, larger values acknowledge from the page cache."),
        ConfigDefinition(
            "flush.ms", .long, default: .int(storageDefaults.flushMs), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.flush.interval.ms"), ConfigSynonym("log.flush.scheduler.interval.ms")],
            "Force an fsync when data is older than this."),
        ConfigDefinition(
            "follower.replication.throttled.replicas", .list, default: .list([]), scope: .topic, validator: .throttledReplicas,
            "Replicas whose catch-up is throttled on the follower's side, as `partition:brokerId` pairs naming the broker that fetches, or `*` for every replica: while a listed replica is not in the ISR, it fetches at most `follower.replication.throttled.rate` (cluster mode; `kafka-reassign-partitions --throttle` sets and removes it)."),
        ConfigDefinition(
            "index.interval.bytes", .int, default: .int(Int64(storageDefaults.indexIntervalBytes)), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.index.interval.bytes")],
            "Bytes of log between two offset-index entries."),
        ConfigDefinition(
            "leader.replication.throttled.replicas", .list, default: .list([]), scope: .topic, validator: .throttledReplicas,
            "Replicas whose catch-up is throttled on the leader's side, as `partition:brokerId` pairs naming the broker that sends (leads), or `*` for every replica: while leading a listed partition, the broker sends to replicas not in the ISR at most `leader.replication.throttled.rate` (cluster mode; `kafka-reassign-partitions --throttle` sets and removes it)."),
        ConfigDefinition(
            "local.retention.bytes", .long, default: .int(-2), scope: .topic, validator: .atLeast(-2),
            synonyms: [ConfigSynonym("log.local.retention.bytes")],
            "With remote.storage.enable, move the oldest closed segments to the remote tier (`remote.log.dir`) while the log dir part of a partition is larger than this; -2 means retention.bytes, -1 no size limit."),
        ConfigDefinition(
            "local.retention.ms", .long, default: .int(-2), scope: .topic, validator: .atLeast(-2),
            synonyms: [ConfigSynonym("log.local.retention.ms")],
            "With remote.storage.enable, move closed segments whose newest record is older than this to the remote tier (`remote.log.dir`); -2 means retention.ms, -1 no time limit."),
        ConfigDefinition(
            "max.compaction.lag.ms", .long, default: longMax, scope: .topic, validator: .atLeast(1),
            synonyms: [ConfigSynonym("log.cleaner.max.compaction.lag.ms")],
            "Longest a record may stay uncompacted."),
        ConfigDefinition(
            "max.message.bytes", .int, default: .int(Int64(storageDefaults.maxMessageBytes)), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("message.max.bytes")],
            "Largest record batch accepted (after compression)."),
        ConfigDefinition(
            "message.timestamp.after.max.ms", .long, default: .int(3_600_000), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.message.timestamp.after.max.ms")],
            "With CreateTime, reject batches whose timestamp is further than this in the future."),
        ConfigDefinition(
            "message.timestamp.before.max.ms", .long, default: longMax, scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.message.timestamp.before.max.ms")],
            "With CreateTime, reject batches whose timestamp is further than this in the past."),
        ConfigDefinition(
            "message.timestamp.type", .string, default: .string("CreateTime"), scope: .topic,
            validator: .oneOf(timestampTypes), synonyms: [ConfigSynonym("log.message.timestamp.type")],
            "`CreateTime` keeps the producer's timestamps; `LogAppendTime` stamps the broker's clock."),
        ConfigDefinition(
            "min.cleanable.dirty.ratio", .double, default: .double(storageDefaults.minCleanableDirtyRatio), scope: .topic,
            validator: .doubleBetween(0, 1), synonyms: [ConfigSynonym("log.cleaner.min.cleanable.ratio")],
            "Compact a log once this fraction of it is uncompacted."),
        ConfigDefinition(
            "min.compaction.lag.ms", .long, default: .int(storageDefaults.minCompactionLagMs), scope: .topic, validator: .atLeast(0),
            synonyms: [ConfigSynonym("log.cleaner.min.compaction.lag.ms")],
            "Shortest time a record stays uncompacted."),
        ConfigDefinition(
            "min.insync.replicas", .int, default: .int(1), scope: .topic, validator: .atLeast(1),
            synonyms: [ConfigSynonym("min.insync.replicas")],
            "Replicas that must have a batch before an acks=all produce succeeds."),
        ConfigDefinition(
            "preallocate", .boolean, default: .bool(false), scope: .topic, synonyms: [ConfigSynonym("log.preallocate")],
            "Preallocate a new segment file at its full size."),
        ConfigDefinition(
            "remote.storage.enable", .boolean, default: .bool(false), scope: .topic,
            "Tier this topic: closed segments leaving the hot set (local.retention.ms / local.retention.bytes) move to the broker's `remote.log.dir` and are served from there. Needs `remote.log.dir`; compacted topics are never tiered."),
        ConfigDefinition(
            "retention.bytes", .long, default: .int(storageDefaults.retentionBytes), scope: .topic, synonyms: [ConfigSynonym("log.retention.bytes")],
            "Delete old segments while a partition is larger than this; -1 for no size limit."),
        ConfigDefinition(
            "retention.ms", .long, default: .int(storageDefaults.retentionMs), scope: .topic, validator: .atLeast(-1),
            synonyms: [
                ConfigSynonym("log.retention.ms"), ConfigSynonym("log.retention.minutes", multiplier: 60_000),
                ConfigSynonym("log.retention.hours", multiplier: 3_600_000),
            ],
            "Delete segments whose newest record is older than this; -1 for no time limit."),
        ConfigDefinition(
            "segment.bytes", .int, default: .int(Int64(storageDefaults.segmentBytes)), scope: .topic, validator: .atLeast(1_048_576),
            synonyms: [ConfigSynonym("log.segment.bytes")], "Roll a new segment when the active one reaches this size."),
        ConfigDefinition(
            "segment.index.bytes", .int, default: .int(Int64(storageDefaults.segmentIndexBytes)), scope: .topic, validator: .atLeast(4),
            synonyms: [ConfigSynonym("log.index.size.max.bytes")], "Size of a segment's offset and time index files."),
        ConfigDefinition(
            "segment.jitter.ms", .long, default: .int(0), scope: .topic, validator: .atLeast(0),
            synonyms: [
                ConfigSynonym("log.roll.jitter.ms"), ConfigSynonym("log.roll.jitter.hours", multiplier: 3_600_000),
            ],
            "Random jitter subtracted from segment.ms so partitions do not roll together."),
        ConfigDefinition(
            "segment.ms", .long, default: .int(storageDefaults.segmentMs), scope: .topic, validator: .atLeast(1),
            synonyms: [ConfigSynonym("log.roll.ms"), ConfigSynonym("log.roll.hours", multiplier: 3_600_000)],
            "Roll a new segment after this long even if it is not full."),
        ConfigDefinition(
            "unclean.leader.election.enable", .boolean, default: .bool(false), scope: .topic,
            synonyms: [ConfigSynonym("unclean.leader.election.enable")],
            "Allow an out-of-sync replica to become leader (may lose data)."),
    ]
}
