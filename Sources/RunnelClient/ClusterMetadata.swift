// A snapshot of the cluster: brokers, controller, topics, partitions with their leaders and replicas.
import KafkaProtocol

/// One broker as Metadata/DescribeCluster describe it.
public struct BrokerMetadata: Sendable, Hashable, Codable {
    public var nodeId: Int32
    public var host: String
    public var port: Int32
    public var rack: String?

    public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.rack = rack
    }

    public var address: BrokerAddress { BrokerAddress(host: host, port: Int(port)) }
}

/// One partition: its leader, leader epoch, replicas and in-sync replicas.
public struct PartitionMetadata: Sendable, Hashable, Codable {
    public var partition: Int32
    /// Node id of the leader, or -1 when there is none.
    public var leader: Int32
    public var leaderEpoch: Int32
    public var replicas: [Int32]
    public var isr: [Int32]
    public var offlineReplicas: [Int32]
    /// Kafka error code name when the partition has an error (e.g. LEADER_NOT_AVAILABLE), else nil.
    public var error: String?
}

/// One topic and its partitions (sorted by index).
public struct TopicMetadata: Sendable, Hashable, Codable {
    public var name: String
    /// The topic id in Kafka's base64 form (all zero when the broker does not report ids).
    public var topicId: String
    /// The topic id as Produce/Fetch v13+ carry it; `.zero` when unknown.
    public var uuid: KafkaUUID = .zero
    public var isInternal: Bool
    public var partitions: [PartitionMetadata]
    /// Kafka error code name for the topic (e.g. UNKNOWN_TOPIC_OR_PARTITION), else nil.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, topicId, isInternal, partitions, error
    }

    public var partitionCount: Int32 { Int32(partitions.count) }
    /// The replication factor (replicas of the first partition).
    public var replicationFactor: Int { partitions.first?.replicas.count ?? 0 }
}

/// What the client knows about the cluster at one moment.
public struct ClusterMetadata: Sendable {
    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [Int32: BrokerMetadata]
    public var topics: [String: TopicMetadata]

    public init(clusterId: String? = nil, controllerId: Int32 = -1, brokers: [Int32: BrokerMetadata] = [:],
                topics: [String: TopicMetadata] = [:]) {
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.brokers = brokers
        self.topics = topics
    }

    /// Builds a snapshot from a Metadata response.
    init(_ response: MetadataResponse) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        brokers = [:]
        for broker in response.brokers {
            brokers[broker.nodeId] = BrokerMetadata(nodeId: broker.nodeId, host: broker.host, port: broker.port,
                                                    rack: broker.rack)
        }
        topics = [:]
        for topic in response.topics {
            guard let name = topic.name else { continue }
            let partitions = topic.partitions.map { partition in
                PartitionMetadata(partition: partition.partitionIndex, leader: partition.leaderId,
                                  leaderEpoch: partition.leaderEpoch, replicas: partition.replicaNodes,
                                  isr: partition.isrNodes, offlineReplicas: partition.offlineReplicas,
                                  error: partition.errorCode == 0 ? nil : ErrorCode(rawValue: partition.errorCode).name)
            }.sorted { $0.partition < $1.partition }
            topics[name] = TopicMetadata(name: name, topicId: "\(topic.topicId)", uuid: topic.topicId,
                                         isInternal: topic.isInternal, partitions: partitions,
                                         error: topic.errorCode == 0 ? nil : ErrorCode(rawValue: topic.errorCode).name)
        }
    }

    /// Merges topics from a newer (possibly partial) snapshot into this one.
    mutating func merge(_ newer: ClusterMetadata, replacingAllTopics: Bool) {
        clusterId = newer.clusterId ?? clusterId
        controllerId = newer.controllerId
        if !newer.brokers.isEmpty { brokers = newer.brokers }
        if replacingAllTopics { topics = [:] }
        for (name, topic) in newer.topics { topics[name] = topic }
    }

    /// The leader of `topic`/`partition`, if known.
    public func leader(topic: String, partition: Int32) -> Int32? {
        guard let leader = topics[topic]?.partitions.first(where: { $0.partition == partition })?.leader else {
            return nil
        }
        return leader >= 0 ? leader : nil
    }
}
