// Value types the admin API takes and returns: new topics, config entries, offsets, cluster description.
import Foundation
import KafkaProtocol

/// A topic to create. -1 for partitions or replication factor means "the broker's default".
public struct NewTopic: Sendable {
    public var name: String
    public var numPartitions: Int32
    public var replicationFactor: Int16
    public var configs: [String: String]

    /// A topic named `name`; -1 leaves partitions or replication factor to the broker.
    public init(name: String, numPartitions: Int32 = -1, replicationFactor: Int16 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.numPartitions = numPartitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// One config of a resource as DescribeConfigs reports it.
public struct ConfigEntry: Sendable, Codable, Equatable {
    public var name: String
    /// Nil for sensitive values and unset ones.
    public var value: String?
    public var source: ConfigSource
    public var isReadOnly: Bool
    public var isSensitive: Bool
    /// True unless the value was set for this resource (topic override or dynamic broker config).
    public var isDefault: Bool { source != .dynamicTopicConfig && source != .dynamicBrokerConfig }

    public init(name: String, value: String?, source: ConfigSource, isReadOnly: Bool, isSensitive: Bool) {
        self.name = name
        self.value = value
        self.source = source
        self.isReadOnly = isReadOnly
        self.isSensitive = isSensitive
    }

    enum CodingKeys: String, CodingKey {
        case name, value, source, isReadOnly = "readOnly", isSensitive = "sensitive", isDefault = "default"
    }

    /// JSON with the source by Kafka's name (`DYNAMIC_TOPIC_CONFIG`, ...).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(value, forKey: .value)
        try container.encode(source.description, forKey: .source)
        try container.encode(isReadOnly, forKey: .isReadOnly)
        try container.encode(isSensitive, forKey: .isSensitive)
        try container.encode(isDefault, forKey: .isDefault)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        let sourceName = try container.decode(String.self, forKey: .source)
        source = ConfigSource(name: sourceName) ?? .unknown
        isReadOnly = try container.decode(Bool.self, forKey: .isReadOnly)
        isSensitive = try container.decode(Bool.self, forKey: .isSensitive)
    }
}

/// A change to one config in IncrementalAlterConfigs.
public enum ConfigChange: Sendable, Equatable {
    case set(String, String)
    case delete(String)

    var name: String {
        switch self {
        case .set(let name, _), .delete(let name): name
        }
    }
}

/// Which offset ListOffsets looks up.
public enum OffsetSpec: Sendable, Equatable {
    /// The log start offset.
    case earliest
    /// The log end offset (or the last stable offset with read_committed).
    case latest
    /// The offset of the record with the largest timestamp.
    case maxTimestamp
    /// The first offset whose timestamp is at or after this many ms since the epoch.
    case timestamp(Int64)

    var timestampValue: Int64 {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .maxTimestamp: -3
        case .timestamp(let millis): millis
        }
    }
}

/// An offset found by ListOffsets: -1 offset means none (no record at or after the timestamp).
public struct PartitionOffset: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: Int64
    public var leaderEpoch: Int32
}

/// The cluster as DescribeCluster (or Metadata) reports it.
public struct ClusterDescription: Sendable, Codable {
    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [BrokerMetadata]
}
