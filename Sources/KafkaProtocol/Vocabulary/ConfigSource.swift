// ConfigSource: where a config value comes from, numbered and named as DescribeConfigs reports it.

/// Where a config value comes from (Kafka's `ConfigSource`; the raw value is the wire number).
public enum ConfigSource: Int8, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case unknown = 0
    /// An override stored with the topic.
    case dynamicTopicConfig = 1
    /// A per-broker dynamic setting (AlterConfigs on a broker).
    case dynamicBrokerConfig = 2
    /// A cluster-wide dynamic default.
    case dynamicDefaultBrokerConfig = 3
    /// The broker's config file, environment or command line.
    case staticBrokerConfig = 4
    /// The built-in default.
    case defaultConfig = 5
    /// A dynamic broker logger level.
    case dynamicBrokerLoggerConfig = 6
    /// A client metrics subscription.
    case clientMetricsConfig = 7
    /// A group's dynamic config.
    case groupConfig = 8

    /// Kafka's name for the source (`DYNAMIC_TOPIC_CONFIG`, `DEFAULT_CONFIG`, ...).
    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .dynamicTopicConfig: "DYNAMIC_TOPIC_CONFIG"
        case .dynamicBrokerConfig: "DYNAMIC_BROKER_CONFIG"
        case .dynamicDefaultBrokerConfig: "DYNAMIC_DEFAULT_BROKER_CONFIG"
        case .staticBrokerConfig: "STATIC_BROKER_CONFIG"
        case .defaultConfig: "DEFAULT_CONFIG"
        case .dynamicBrokerLoggerConfig: "DYNAMIC_BROKER_LOGGER_CONFIG"
        case .clientMetricsConfig: "CLIENT_METRICS_CONFIG"
        case .groupConfig: "GROUP_CONFIG"
        }
    }

    /// The source Kafka names `name` (as `description` writes it); nil for an unknown name.
    public init?(name: String) {
        guard let source = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = source
    }
}
