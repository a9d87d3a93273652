// GroupCoordinatorConfig+Broker: the group coordinator's settings read from the broker's configuration.
import RunnelGroups

extension GroupCoordinatorConfig {
    /// The settings as configured for the broker (Kafka's defaults where unset).
    init(_ broker: BrokerConfig) {
        self.init()
        let defaults = GroupCoordinatorConfig()
        func int32(_ name: String, _ fallback: Int32) -> Int32 {
            Int32(clamping: broker.int(name, fallback: Int64(fallback)))
        }
        minSessionTimeoutMs = int32("group.min.session.timeout.ms", defaults.minSessionTimeoutMs)
        maxSessionTimeoutMs = int32("group.max.session.timeout.ms", defaults.maxSessionTimeoutMs)
        initialRebalanceDelayMs = int32("group.initial.rebalance.delay.ms", defaults.initialRebalanceDelayMs)
        maxSize = int32("group.max.size", defaults.maxSize)
        offsetsTopicPartitions = max(int32("offsets.topic.num.partitions", defaults.offsetsTopicPartitions), 1)
        offsetsRetentionMinutes = broker.int("offsets.retention.minutes", fallback: defaults.offsetsRetentionMinutes)
        offsetsRetentionCheckIntervalMs = broker.int("offsets.retention.check.interval.ms",
                                                     fallback: defaults.offsetsRetentionCheckIntervalMs)
        offsetMetadataMaxBytes = int32("offset.metadata.max.bytes", defaults.offsetMetadataMaxBytes)
    }
}
