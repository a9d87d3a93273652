// GroupCoordinatorConfig+Broker: the group coordinator's settings read from the broker configuration.
import RunnelGroups

extension GroupCoordinatorConfig {
    /// The settings as configured (the settings table's defaults where unset). The coordinator's
    /// internal timings that are not Kafka settings (new-member join timeout, timer tick) keep their values.
    init(_ config: BrokerConfig) {
        self.init(
            minSessionTimeoutMs: config.int32(.groupMinSessionTimeoutMs),
            maxSessionTimeoutMs: config.int32(.groupMaxSessionTimeoutMs),
            initialRebalanceDelayMs: config.int32(.groupInitialRebalanceDelayMs),
            maxSize: config.int32(.groupMaxSize),
            offsetsTopicPartitions: max(config.int32(.offsetsTopicNumPartitions), 1),
            offsetsRetentionMinutes: config.int(.offsetsRetentionMinutes),
            offsetsRetentionCheckIntervalMs: config.int(.offsetsRetentionCheckIntervalMs),
            offsetMetadataMaxBytes: config.int32(.offsetMetadataMaxBytes))
    }
}
