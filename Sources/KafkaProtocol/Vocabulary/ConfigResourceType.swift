// ConfigResourceType: the kind of resource a config belongs to, numbered as the config APIs carry it.

/// The kind of resource a config belongs to (Kafka's `ConfigResource.Type`; the raw value is the wire number).
public enum ConfigResourceType: Int8, Sendable, Hashable, Codable {
    case unknown = 0
    /// A topic's overrides.
    case topic = 2
    /// A broker's settings.
    case broker = 4
    /// A broker's logger levels.
    case brokerLogger = 8
    /// A client metrics subscription.
    case clientMetrics = 16
    /// A consumer group's settings.
    case group = 32
}
