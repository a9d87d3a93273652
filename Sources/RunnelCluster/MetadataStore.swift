// The metadata store protocol: one interface, a local (single node) and later an etcd implementation.
import KafkaProtocol

/// Where topics, the cluster id and producer-id blocks live. Implementations persist every change
/// before returning.
public protocol MetadataStore: Sendable {
    var clusterId: String { get }
    var nodeId: Int32 { get }
    func topics() -> [TopicMetadata]
    func topic(named name: String) -> TopicMetadata?
    func topic(id: KafkaUUID) -> TopicMetadata?
    func createTopic(_ topic: TopicMetadata) throws(MetadataStoreError)
    func deleteTopic(named name: String) throws(MetadataStoreError) -> TopicMetadata
    func setPartitionCount(topic name: String, to count: Int32) throws(MetadataStoreError)
    func setConfigs(topic name: String, to configs: [String: String]) throws(MetadataStoreError)
    func nextProducerId() throws(MetadataStoreError) -> Int64
}
