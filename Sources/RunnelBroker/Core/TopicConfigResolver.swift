// Turns the configuration table's view of a topic (overrides → broker settings → defaults) into what
// partitions use (storage LogConfig + produce checks) and what DescribeConfigs reports.
import KafkaRecords
import RunnelCluster
import RunnelStorage

/// Resolves topic configs against the broker's configuration.
struct TopicConfigResolver: Sendable {
    let broker: BrokerConfig

    /// Effective settings of an existing topic. Its stored overrides were validated when set; a value
    /// that no longer parses (e.g. a name removed in an upgrade) is logged by the caller and ignored.
    func logConfig(for topic: TopicMetadata) throws(ConfigError) -> TopicLogSettings {
        try validatedLogConfig(overrides: topic.configs)
    }

    /// Validates overrides (unknown names, bad values → INVALID_CONFIG) and resolves the settings.
    func validatedLogConfig(overrides: [String: String]) throws(ConfigError) -> TopicLogSettings {
        let parsed = try TopicConfig.parseOverrides(overrides)
        return settings(from: broker.topicConfig(overrides: parsed))
    }

    func settings(from topic: TopicConfig) -> TopicLogSettings {
        var log = LogConfig()
        log.segmentBytes = Int(topic.segmentBytes)
        log.segmentMs = topic.segmentMs
        log.segmentIndexBytes = Int(topic.segmentIndexBytes)
        log.preallocate = topic.preallocate
        log.indexIntervalBytes = Int(topic.indexIntervalBytes)
        log.retentionMs = topic.retentionMs
        log.retentionBytes = topic.retentionBytes
        log.remoteStorageEnable = topic.remoteStorageEnable
        log.localRetentionMs = topic.localRetentionMs
        log.localRetentionBytes = topic.localRetentionBytes
        var policy: CleanupPolicy = []
        if topic.isCompacted { policy.insert(.compact) }
        if topic.deletesOldSegments || policy.isEmpty { policy.insert(.delete) }
        log.cleanupPolicy = policy
        log.deleteRetentionMs = topic.deleteRetentionMs
        log.minCleanableDirtyRatio = topic.minCleanableDirtyRatio
        log.minCompactionLagMs = topic.minCompactionLagMs
        log.fileDeleteDelayMs = topic.fileDeleteDelayMs
        log.flushMessages = max(1, topic.flushMessages)
        log.flushMs = topic.flushMs
        log.messageTimestampType = topic.usesLogAppendTime ? .logAppendTime : .createTime
        log.maxMessageBytes = Int(topic.maxMessageBytes)
        log.producerIdExpirationMs = broker.int(.producerIdExpirationMs)
        log.transactionalIdExpirationMs = broker.int(.transactionalIdExpirationMs)
        // Kafka's "uncompressed" is our codec `.none`; "producer" (or anything unknown) keeps the sent codec.
        let compression = topic.compressionType == "uncompressed" ? CompressionCodec.none
            : CompressionCodec(name: topic.compressionType)
        return TopicLogSettings(
            log: log, maxMessageBytes: Int(topic.maxMessageBytes),
            timestampType: topic.usesLogAppendTime ? .logAppendTime : .createTime,
            timestampBeforeMaxMs: topic.messageTimestampBeforeMaxMs, timestampAfterMaxMs: topic.messageTimestampAfterMaxMs,
            compression: compression, gzipLevel: topic.compressionGzipLevel, lz4Level: topic.compressionLz4Level,
            zstdLevel: topic.compressionZstdLevel, minInsyncReplicas: Int(topic.minInsyncReplicas),
            leaderThrottledReplicas: ThrottledReplicaList(items: topic.leaderReplicationThrottledReplicas) ?? .none,
            followerThrottledReplicas: ThrottledReplicaList(items: topic.followerReplicationThrottledReplicas) ?? .none)
    }

    /// DescribeConfigs of a topic, filtered to `keys` when given.
    func describe(topicOverrides: [String: String], keys: [String]?, includeSynonyms: Bool,
                  includeDocumentation: Bool) -> [ConfigEntry] {
        let parsed = (try? TopicConfig.parseOverrides(topicOverrides)) ?? [:]
        return filter(broker.describeTopicConfigs(overrides: parsed), keys: keys, includeSynonyms: includeSynonyms,
                      includeDocumentation: includeDocumentation)
    }

    /// DescribeConfigs of this broker.
    func describeBroker(keys: [String]?, includeSynonyms: Bool, includeDocumentation: Bool) -> [ConfigEntry] {
        filter(broker.describeBrokerConfigs(), keys: keys, includeSynonyms: includeSynonyms,
               includeDocumentation: includeDocumentation)
    }

    func isList(_ name: String) -> Bool { ConfigTable.topic[name]?.type == .list }

    /// The value a topic config currently resolves to, as text.
    func effectiveValue(of name: String, overrides: [String: String]) -> String? {
        let parsed = (try? TopicConfig.parseOverrides(overrides)) ?? [:]
        return broker.resolvedTopicValue(name, overrides: parsed)?.value.description
    }

    private func filter(_ entries: [ConfigEntry], keys: [String]?, includeSynonyms: Bool,
                        includeDocumentation: Bool) -> [ConfigEntry] {
        var result = entries
        if let keys { result = result.filter { keys.contains($0.name) } }
        return result.map { entry in
            var entry = entry
            if !includeSynonyms { entry.synonyms = [] }
            if !includeDocumentation { entry.documentation = "" }
            return entry
        }
    }
}
