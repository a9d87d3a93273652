// PartitionStateWriter without etcd: a decision that loses its compare-and-swap to a concurrent writer
// (a leader's ISR change landing first) is made again from the state that won, never written over it.
import KafkaProtocol
import Logging
import RunnelCluster
import Synchronization
import Testing

/// A store holding one image in memory; `interference` runs once inside the first `alterPartition`,
/// before its compare, as another writer's change landing first.
final class ScriptedMetadataStore: MetadataStore {
    struct State: Sendable {
        var image: MetadataImage
        var continuations: [AsyncStream<MetadataUpdate>.Continuation] = []
        var interference: (@Sendable (inout PartitionState) -> Void)?
        var attempts = 0
    }
    let nodeId: Int32 = 1
    let state: Mutex<State>

    init(image: MetadataImage, interference: (@Sendable (inout PartitionState) -> Void)?) {
        state = Mutex(State(image: image, interference: interference))
    }

    var image: MetadataImage { state.withLock { $0.image } }
    var registration: RegistrationState { .registered(brokerEpoch: 1) }
    var isController: Bool { true }
    var attempts: Int { state.withLock { $0.attempts } }

    func updates() -> AsyncStream<MetadataUpdate> {
        let (stream, continuation) = AsyncStream<MetadataUpdate>.makeStream()
        state.withLock { $0.continuations.append(continuation) }
        return stream
    }

    func alterPartition(_ partition: TopicPartition, expectedPartitionEpoch: Int32, to newState: PartitionState,
                        fencing: MetadataWriteFencing) async throws(MetadataStoreError) -> PartitionState {
        try state.withLock { state throws(MetadataStoreError) -> PartitionState in
            state.attempts += 1
            guard var current = state.image.partition(partition) else { throw .unknownPartition(partition) }
            if let interfere = state.interference {
                state.interference = nil
                interfere(&current)
                current.partitionEpoch += 1
                store(current, partition, &state)
            }
            guard current.partitionEpoch == expectedPartitionEpoch else {
                throw .stalePartitionEpoch(partition, expected: expectedPartitionEpoch, current: current.partitionEpoch)
            }
            var stored = newState
            stored.partitionEpoch = expectedPartitionEpoch + 1
            store(stored, partition, &state)
            return stored
        }
    }

    private func store(_ partitionState: PartitionState, _ partition: TopicPartition, _ state: inout State) {
        state.image.topics[partition.topic]?.partitions[Int(partition.partition)] = partitionState
        state.image.revision += 1
        let update = MetadataUpdate(revision: state.image.revision, changes: [.partitionChanged(partition, partitionState)],
                                    image: state.image)
        for continuation in state.continuations { continuation.yield(update) }
    }

    func createTopic(_ topic: TopicMetadata, assignments: [[Int32]]) async throws(MetadataStoreError) { throw .shutDown }
    func deleteTopic(named name: String) async throws(MetadataStoreError) -> TopicMetadata { throw .shutDown }
    func setPartitionCount(topic name: String, to count: Int32, newAssignments: [[Int32]]) async throws(MetadataStoreError) {
        throw .shutDown
    }
    func setConfigs(topic name: String, to configs: [String: String]) async throws(MetadataStoreError) { throw .shutDown }
    func allocateProducerIdBlock() async throws(MetadataStoreError) -> ProducerIdBlock { throw .shutDown }
    func writeRecords(_ writes: [ClusterRecordWrite]) async throws(MetadataStoreError) -> [ClusterRecord?] { throw .shutDown }
    func requestControlledShutdown() async throws(MetadataStoreError) {}
    func shutdown() async { state.withLock { $0.continuations.forEach { $0.finish() } } }
}

@Suite("PartitionStateWriter")
struct PartitionStateWriterTests {
    let partition = TopicPartition(topic: "t", partition: 0)

    func image(_ state: PartitionState, live: [Int32]) -> MetadataImage {
        var image = MetadataImage(clusterId: "c")
        for id in live { image.brokers[id] = BrokerRegistration(nodeId: id, listeners: []) }
        image.setTopic(TopicImage(metadata: TopicMetadata(name: "t", topicId: KafkaUUID.random(), partitionCount: 1,
                                                          replicationFactor: 3), partitions: [state]))
        return image
    }

    @Test("a failover decision that loses to an ISR shrink is decided again from the shrunk ISR")
    func recomputesAfterLostCompare() async throws {
        // Broker 1 (the leader) is gone; meanwhile another writer took 2 out of the ISR.
        let initial = PartitionState(replicas: [1, 2, 3], leader: 1, leaderEpoch: 4, isr: [1, 2, 3], partitionEpoch: 9)
        let store = ScriptedMetadataStore(image: image(initial, live: [2, 3])) { $0.isr = [1, 3] }
        let writer = PartitionStateWriter(store: store, logger: Logger(label: "test"))
        let outcome = await writer.write(partition, fencing: .controllerEpoch(0)) { _, state, liveness in
            LeaderElection.reconcile(state, liveness: liveness).map { .success($0) }
        }
        guard case .changed(let stored, .leaderFailed) = outcome else { Issue.record("got \(outcome)"); return }
        #expect(stored.leader == 3 && stored.isr == [3])  // not 2, which had left the ISR
        #expect(stored.leaderEpoch == 5)
        #expect(stored.partitionEpoch == 11)
        #expect(store.attempts == 2)
    }

    @Test("a decision the winning change made unnecessary is dropped")
    func dropsUnneededDecision() async throws {
        let initial = PartitionState(replicas: [1, 2], leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0)
        // The winner already removed the dead follower.
        let store = ScriptedMetadataStore(image: image(initial, live: [1])) { $0.isr = [1] }
        let writer = PartitionStateWriter(store: store, logger: Logger(label: "test"))
        let outcome = await writer.write(partition, fencing: .controllerEpoch(0)) { _, state, liveness in
            LeaderElection.reconcile(state, liveness: liveness).map { .success($0) }
        }
        guard case .unchanged = outcome else { Issue.record("got \(outcome)"); return }
        #expect(store.image.partition(partition)?.partitionEpoch == 1)
    }
}
