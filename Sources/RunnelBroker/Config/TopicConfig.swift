// TopicConfig: a topic's effective log settings (Kafka's LogConfig), typed, and topic override parsing.

/// The effective settings of one topic: its overrides, else the broker's settings, else defaults.
/// Storage reads these (segment size, retention, flush, index, compaction, timestamps).
public struct TopicConfig: Sendable, Equatable {
    /// `cleanup.policy`: `delete`, `compact` or both.
    public var cleanupPolicy: [String]
    /// `compression.type`.
    public var compressionType: String
    /// `compression.gzip.level` (-1: zlib's default).
    public var compressionGzipLevel: Int32
    /// `compression.lz4.level`.
    public var compressionLz4Level: Int32
    /// `compression.zstd.level`.
    public var compressionZstdLevel: Int32
    /// `delete.retention.ms`.
    public var deleteRetentionMs: Int64
    /// `file.delete.delay.ms`.
    public var fileDeleteDelayMs: Int64
    /// `flush.messages`.
    public var flushMessages: Int64
    /// `flush.ms`.
    public var flushMs: Int64
    /// `index.interval.bytes`.
    public var indexIntervalBytes: Int32
    /// `max.compaction.lag.ms`.
    public var maxCompactionLagMs: Int64
    /// `max.message.bytes`.
    public var maxMessageBytes: Int32
    /// `message.timestamp.after.max.ms`.
    public var messageTimestampAfterMaxMs: Int64
    /// `message.timestamp.before.max.ms`.
    public var messageTimestampBeforeMaxMs: Int64
    /// `message.timestamp.type` is `LogAppendTime`.
    public var usesLogAppendTime: Bool
    /// `min.cleanable.dirty.ratio`.
    public var minCleanableDirtyRatio: Double
    /// `min.compaction.lag.ms`.
    public var minCompactionLagMs: Int64
    /// `min.insync.replicas`.
    public var minInsyncReplicas: Int32
    /// `preallocate`.
    public var preallocate: Bool
    /// `leader.replication.throttled.replicas` (empty: none).
    public var leaderReplicationThrottledReplicas: [String] = []
    /// `follower.replication.throttled.replicas` (empty: none).
    public var followerReplicationThrottledReplicas: [String] = []
    /// `local.retention.bytes` (-2: retention.bytes).
    public var localRetentionBytes: Int64 = -2
    /// `local.retention.ms` (-2: retention.ms).
    public var localRetentionMs: Int64 = -2
    /// `remote.storage.enable`.
    public var remoteStorageEnable = false
    /// `retention.bytes` (-1: no limit).
    public var retentionBytes: Int64
    /// `retention.ms` (-1: no limit).
    public var retentionMs: Int64
    /// `segment.bytes`.
    public var segmentBytes: Int32
    /// `segment.index.bytes`.
    public var segmentIndexBytes: Int32
    /// `segment.jitter.ms`.
    public var segmentJitterMs: Int64
    /// `segment.ms`.
    public var segmentMs: Int64
    /// `unclean.leader.election.enable`.
    public var uncleanLeaderElectionEnable: Bool

    /// True when `cleanup.policy` includes `compact`.
    public var isCompacted: Bool { cleanupPolicy.contains("compact") }
    /// True when `cleanup.policy` includes `delete`.
    public var deletesOldSegments: Bool { cleanupPolicy.contains("delete") }

    /// The defaults, with no broker settings and no overrides.
    public static let defaults = BrokerConfig().topicConfig()

    /// Parses and validates a topic's overrides as stored with it or sent in CreateTopics /
    /// AlterConfigs. Unknown names and bad values throw `ConfigError` (Kafka's `INVALID_CONFIG`).
    public static func parseOverrides(_ configs: [String: String]) throws(ConfigError) -> [String: ConfigValue] {
        var result: [String: ConfigValue] = [:]
        for (name, text) in configs.sorted(by: { $0.key < $1.key }) {
            guard let definition = ConfigTable.topic[name] else {
                throw .unknownSetting(name: name, origin: .topicOverride, suggestion: nil)
            }
            guard let value = definition.parse(text).map(definition.normalized) else {
                throw .invalidValue(name: name, value: text, reason: "must be a \(definition.type.name)",
                                    origin: .topicOverride)
            }
            if let reason = definition.violation(of: value) {
                throw .invalidValue(name: name, value: text, reason: reason, origin: .topicOverride)
            }
            result[name] = value
        }
        return result
    }
}

extension BrokerConfig {
    /// A topic's effective settings given its validated overrides (see `TopicConfig.parseOverrides`).
    public func topicConfig(overrides: [String: ConfigValue] = [:]) -> TopicConfig {
        // The table's default backs every read; the neutral values after `??` are never reached.
        func value(_ name: String) -> ConfigValue? {
            resolvedTopicValue(name, overrides: overrides)?.value ?? ConfigTable.topic[name]?.defaultValue
        }
        func long(_ name: String) -> Int64 { value(name)?.intValue ?? 0 }
        func int(_ name: String) -> Int32 { Int32(clamping: long(name)) }
        func bool(_ name: String) -> Bool { value(name)?.boolValue ?? false }
        return TopicConfig(
            cleanupPolicy: value("cleanup.policy")?.listValue ?? [],
            compressionType: value("compression.type")?.stringValue ?? "",
            compressionGzipLevel: int("compression.gzip.level"),
            compressionLz4Level: int("compression.lz4.level"),
            compressionZstdLevel: int("compression.zstd.level"),
            deleteRetentionMs: long("delete.retention.ms"),
            fileDeleteDelayMs: long("file.delete.delay.ms"),
            flushMessages: long("flush.messages"),
            flushMs: long("flush.ms"),
            indexIntervalBytes: int("index.interval.bytes"),
            maxCompactionLagMs: long("max.compaction.lag.ms"),
            maxMessageBytes: int("max.message.bytes"),
            messageTimestampAfterMaxMs: long("message.timestamp.after.max.ms"),
            messageTimestampBeforeMaxMs: long("message.timestamp.before.max.ms"),
            usesLogAppendTime: value("message.timestamp.type")?.stringValue == "LogAppendTime",
            minCleanableDirtyRatio: value("min.cleanable.dirty.ratio")?.doubleValue ?? 0,
            minCompactionLagMs: long("min.compaction.lag.ms"),
            minInsyncReplicas: int("min.insync.replicas"),
            preallocate: bool("preallocate"),
            leaderReplicationThrottledReplicas: value("leader.replication.throttled.replicas")?.listValue ?? [],
            followerReplicationThrottledReplicas: value("follower.replication.throttled.replicas")?.listValue ?? [],
            localRetentionBytes: long("local.retention.bytes"),
            localRetentionMs: long("local.retention.ms"),
            remoteStorageEnable: bool("remote.storage.enable"),
            retentionBytes: long("retention.bytes"),
            retentionMs: long("retention.ms"),
            segmentBytes: int("segment.bytes"),
            segmentIndexBytes: int("segment.index.bytes"),
            segmentJitterMs: long("segment.jitter.ms"),
            segmentMs: long("segment.ms"),
            uncleanLeaderElectionEnable: bool("unclean.leader.election.enable"))
    }
}
