// GroupTopicCatalog: what the group request layer needs to know about topics (ids for OffsetCommit and
// OffsetFetch v10, partition existence for commits), supplied by the broker's metadata.
import KafkaProtocol

/// Topic lookups for group requests. The broker implements it over its metadata store.
public protocol GroupTopicCatalog: Sendable {
    /// The name of the topic with `topicId`, if it exists.
    func topicName(for topicId: KafkaUUID) -> String?
    /// The id of the topic named `name`, if it exists.
    func topicId(for name: String) -> KafkaUUID?
    /// True if the topic exists and has partition `partition`.
    func partitionExists(topic: String, partition: Int32) -> Bool
}

/// Where a coordinator runs, as FindCoordinator reports it.
public struct CoordinatorNode: Sendable, Equatable {
    public var nodeId: Int32
    public var host: String
    public var port: Int32

    public init(nodeId: Int32, host: String, port: Int32) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
    }
}
