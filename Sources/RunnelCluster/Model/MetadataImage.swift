// MetadataImage: the whole cluster metadata at one revision, as an immutable value (Kafka's MetadataImage).
import KafkaProtocol

/// One topic and the state of each of its partitions.
public struct TopicImage: Sendable, Equatable {
    /// Name, id, partition count, configs.
    public var metadata: TopicMetadata
    /// One state per partition, index = partition number.
    public var partitions: [PartitionState]

    /// Creates a topic image.
    public init(metadata: TopicMetadata, partitions: [PartitionState]) {
        self.metadata = metadata
        self.partitions = partitions
    }
}

/// Everything the metadata store knows, consistent at `revision`. Readers take one image and answer
/// from it, so a response never mixes two revisions.
public struct MetadataImage: Sendable, Equatable {
    /// The cluster id (Kafka's, 22 characters of base64).
    public var clusterId: String
    /// The store revision this image reflects (etcd's revision; a counter for the local store).
    public var revision: Int64
    /// Live brokers by node id.
    public var brokers: [Int32: BrokerRegistration]
    /// The controller, nil while none is elected.
    public var controller: ControllerInfo?
    /// Topics by name.
    public var topics: [String: TopicImage]
    /// Topic names by topic id.
    public var topicNames: [KafkaUUID: String]
    /// Cluster records (aliases, ACLs, credentials, quotas) by kind, then key.
    public var records: [ClusterRecordKind: [String: ClusterRecord]]

    /// An image with no brokers and no topics.
    public init(clusterId: String, revision: Int64 = 0) {
        self.clusterId = clusterId
        self.revision = revision
        self.brokers = [:]
        self.controller = nil
        self.topics = [:]
        self.topicNames = [:]
        self.records = [:]
    }

    /// Live brokers, by node id.
    public var liveBrokers: [BrokerRegistration] { brokers.values.sorted { $0.nodeId < $1.nodeId } }

    /// The topic `name`, or nil.
    public func topic(named name: String) -> TopicImage? { topics[name] }

    /// The topic with `id`, or nil.
    public func topic(id: KafkaUUID) -> TopicImage? { topicNames[id].flatMap { topics[$0] } }

    /// The state of one partition, or nil when the topic or partition does not exist.
    public func partition(_ partition: TopicPartition) -> PartitionState? {
        guard let topic = topics[partition.topic], partition.partition >= 0,
              Int(partition.partition) < topic.partitions.count else { return nil }
        return topic.partitions[Int(partition.partition)]
    }

    /// Adds or replaces a topic, keeping the id index in step.
    public mutating func setTopic(_ topic: TopicImage) {
        if let old = topics[topic.metadata.name], old.metadata.topicId != topic.metadata.topicId {
            topicNames.removeValue(forKey: old.metadata.topicId)
        }
        topics[topic.metadata.name] = topic
        topicNames[topic.metadata.topicId] = topic.metadata.name
    }

    /// Removes a topic; returns it.
    @discardableResult
    public mutating func removeTopic(named name: String) -> TopicImage? {
        guard let removed = topics.removeValue(forKey: name) else { return nil }
        topicNames.removeValue(forKey: removed.metadata.topicId)
        return removed
    }
}
