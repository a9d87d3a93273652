// The cluster's view of a topic: its id, partitions, replication and per-topic config overrides.
import KafkaProtocol

/// One topic as the metadata store knows it. On a single node every partition's leader is this node.
public struct TopicMetadata: Sendable, Equatable, Codable {
    /// The topic name (Kafka's rules: 1–249 characters of [a-zA-Z0-9._-], not "." or "..").
    public var name: String
    /// The topic id (Kafka 2.8+), stable for the life of the topic; a re-created topic gets a new one.
    public var topicId: KafkaUUID
    public var partitionCount: Int32
    public var replicationFactor: Int16
    /// Topic-level config overrides (Kafka names such as `retention.ms`), as strings.
    public var configs: [String: String]
    /// True for internal topics such as `__consumer_offsets`.
    public var isInternal: Bool

    public init(name: String, topicId: KafkaUUID, partitionCount: Int32, replicationFactor: Int16,
                configs: [String: String] = [:], isInternal: Bool = false) {
        self.name = name
        self.topicId = topicId
        self.partitionCount = partitionCount
        self.replicationFactor = replicationFactor
        self.configs = configs
        self.isInternal = isInternal
    }

    enum CodingKeys: String, CodingKey {
        case name, topicId = "topic_id", partitionCount = "partitions", replicationFactor = "replication_factor"
        case configs, isInternal = "internal"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let idText = try c.decode(String.self, forKey: .topicId)
        guard let id = KafkaUUID(base64: idText) else {
            throw DecodingError.dataCorruptedError(forKey: .topicId, in: c, debugDescription: "bad topic id \(idText)")
        }
        topicId = id
        partitionCount = try c.decode(Int32.self, forKey: .partitionCount)
        replicationFactor = try c.decode(Int16.self, forKey: .replicationFactor)
        configs = try c.decodeIfPresent([String: String].self, forKey: .configs) ?? [:]
        isInternal = try c.decodeIfPresent(Bool.self, forKey: .isInternal) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(topicId.description, forKey: .topicId)
        try c.encode(partitionCount, forKey: .partitionCount)
        try c.encode(replicationFactor, forKey: .replicationFactor)
        try c.encode(configs, forKey: .configs)
        try c.encode(isInternal, forKey: .isInternal)
    }

    /// Why a name is not a legal Kafka topic name, or nil when it is.
    public static func invalidNameReason(_ name: String) -> String? {
        if name.isEmpty { return "Topic name is empty" }
        if name == "." || name == ".." { return "Topic name cannot be \".\" or \"..\"" }
        if name.utf8.count > 249 { return "Topic name is longer than 249 characters" }
        for byte in name.utf8 {
            let ok = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
            if !ok { return "Topic name \"\(name)\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'" }
        }
        return nil
    }
}
