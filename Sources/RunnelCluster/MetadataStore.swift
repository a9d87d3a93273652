// The metadata store protocol: one interface, a local (single node) and an etcd (cluster) implementation.
import KafkaProtocol

/// Whose authority a partition-state write depends on: the write fails with `.fenced` when that
/// authority is gone, even if the partition epoch still matches.
public enum MetadataWriteFencing: Sendable, Equatable {
    /// No fencing beyond the partition epoch.
    case none
    /// The write requires this broker's registration to be the current one (a broker whose lease was
    /// lost cannot shrink an ISR). Kafka's broker epoch check.
    case brokerEpoch
    /// The write requires this broker to still be the controller elected at this epoch.
    case controllerEpoch(Int64)
}

/// Where topics, partition assignments and states, live brokers, the controller, the cluster id and
/// producer-id blocks live.
///
/// Reads are synchronous and never touch the network: they come from `image`, which the store keeps
/// current (the etcd store from its watch). Writes are `async` and return once the change is durable
/// in the store *and* visible in `image`. Changes — this broker's own and everyone else's — arrive on
/// `updates()` in revision order.
public protocol MetadataStore: Sendable {
    /// This broker's `node.id`.
    var nodeId: Int32 { get }
    /// The current metadata, consistent at one revision.
    var image: MetadataImage { get }
    /// This broker's membership (always `.registered` on a single node).
    var registration: RegistrationState { get }
    /// True while this broker is the elected controller and its session is live (always on a single node).
    var isController: Bool { get }

    /// A new stream of every later update, in revision order; it ends when the store shuts down.
    func updates() -> AsyncStream<MetadataUpdate>

    /// Creates a topic with one replica list per partition (its length is the partition count).
    /// Fails with `.topicAlreadyExists` when the name is taken.
    func createTopic(_ topic: TopicMetadata, assignments: [[Int32]]) async throws(MetadataStoreError)
    /// Deletes a topic and its partition states; returns what was deleted.
    func deleteTopic(named name: String) async throws(MetadataStoreError) -> TopicMetadata
    /// Raises a topic's partition count to `count`; `newAssignments` has one replica list per added partition.
    func setPartitionCount(topic name: String, to count: Int32, newAssignments: [[Int32]]) async throws(MetadataStoreError)
    /// Replaces a topic's config overrides.
    func setConfigs(topic name: String, to configs: [String: String]) async throws(MetadataStoreError)
    /// Reserves a block of producer ids never handed out before (also across restarts).
    func allocateProducerIdBlock() async throws(MetadataStoreError) -> ProducerIdBlock
    /// Compare-and-swap of one partition's state: succeeds only if the stored partition epoch is still
    /// `expectedPartitionEpoch` (and `fencing` holds); stores `state` with partition epoch
    /// `expectedPartitionEpoch + 1` and returns it. Fails with `.stalePartitionEpoch` when another
    /// writer changed the partition first.
    func alterPartition(_ partition: TopicPartition, expectedPartitionEpoch: Int32, to state: PartitionState,
                        fencing: MetadataWriteFencing) async throws(MetadataStoreError) -> PartitionState
    /// Writes a batch of cluster records atomically: every write's `expectedVersion` condition holds
    /// and all of them are applied at one revision, or none is (`.recordVersionMismatch` names the
    /// first record whose condition failed). Returns the stored records, nil for deletes, in order.
    /// The store's image (and every broker's, through its updates) reflects the batch when this returns.
    @discardableResult
    func writeRecords(_ writes: [ClusterRecordWrite]) async throws(MetadataStoreError) -> [ClusterRecord?]
    /// Starts a controlled shutdown: marks this broker's registration as shutting down
    /// (`BrokerRegistration.inControlledShutdown`), so the controller moves its leaderships to other
    /// ISR members and elects it nowhere, while it keeps serving until `shutdown()`. A no-op on a
    /// single node (there is nowhere to move to). `controlledShutdown(timeout:)` also waits for the moves.
    /// - Throws: `.fenced` when this broker is not registered, `.unavailable` when etcd cannot be reached.
    func requestControlledShutdown() async throws(MetadataStoreError)
    /// Leaves the cluster: resigns as controller, unregisters, ends `updates()` streams.
    func shutdown() async
}

extension MetadataStore {
    /// The cluster id.
    public var clusterId: String { image.clusterId }
    /// Every topic, by name.
    public func topics() -> [TopicMetadata] { image.topics.values.map(\.metadata).sorted { $0.name < $1.name } }
    /// The topic `name`, or nil.
    public func topic(named name: String) -> TopicMetadata? { image.topics[name]?.metadata }
    /// The topic with `id`, or nil.
    public func topic(id: KafkaUUID) -> TopicMetadata? { image.topic(id: id)?.metadata }
    /// One partition's state, or nil.
    public func partitionState(_ partition: TopicPartition) -> PartitionState? { image.partition(partition) }
    /// Live brokers by node id.
    public func liveBrokers() -> [BrokerRegistration] { image.liveBrokers }
    /// The controller, nil while none is elected.
    public var controller: ControllerInfo? { image.controller }
}
