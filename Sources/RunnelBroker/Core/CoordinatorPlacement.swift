// CoordinatorPlacement: where the group and transaction coordinators live. On a single node this
// broker coordinates every key. In cluster mode a key's coordinator is the leader of its partition of
// `__consumer_offsets` / `__transaction_state` (Kafka's rule): FindCoordinator answers with that
// leader, the internal topic is created on first use with its configured replication factor (as
// Kafka does; COORDINATOR_NOT_AVAILABLE until enough brokers are registered), and the coordinators
// load a partition's state when this broker becomes its leader and drop it when it stops being it.
import KafkaProtocol
import Logging
import RunnelCluster
import RunnelGroups
import RunnelTransactions
import Synchronization

/// The internal topics' settings for cluster mode.
struct InternalTopicSettings: Sendable {
    var offsetsPartitions: Int32 = 50
    var offsetsReplicationFactor: Int16 = 3
    var offsetsSegmentBytes: Int64 = 100 << 20
    var transactionPartitions: Int32 = 50
    var transactionReplicationFactor: Int16 = 3
    var transactionSegmentBytes: Int64 = 100 << 20
    var transactionMinIsr: Int32 = 2
}

/// Creates a missing internal topic in the background (held in a struct, not as a `Mutex`'s value
/// itself: decision 0026).
struct InternalTopicCreator: Sendable {
    let create: @Sendable (String) -> Void
}

/// Finds a coordinator key's broker (FindCoordinator).
final class CoordinatorLocator: Sendable {
    private let store: any MetadataStore
    private let clusterMode: Bool
    private let localNode: CoordinatorNode
    private let groupPartition: @Sendable (String) -> Int32
    private let transactionPartition: @Sendable (String) -> Int32
    /// Asked to create a missing internal topic (cluster mode; set once the core exists).
    let internalTopicCreator = Mutex<InternalTopicCreator?>(nil)

    init(store: any MetadataStore, clusterMode: Bool, localNode: CoordinatorNode,
         groupPartition: @escaping @Sendable (String) -> Int32, transactionPartition: @escaping @Sendable (String) -> Int32) {
        self.store = store
        self.clusterMode = clusterMode
        self.localNode = localNode
        self.groupPartition = groupPartition
        self.transactionPartition = transactionPartition
    }

    /// The broker coordinating `key` of `keyType` (0 group, 1 transaction), nil while none can
    /// (the internal topic is being created, or the partition has no live leader).
    func locate(keyType: Int8, key: String) -> CoordinatorNode? {
        guard clusterMode else { return localNode }
        let isTransaction = keyType == 1  // FindCoordinator key type 1: a transactional id
        let topic = isTransaction ? InternalTopics.transactionState : InternalTopics.consumerOffsets
        let image = store.image
        guard let topicImage = image.topic(named: topic) else {
            internalTopicCreator.withLock { $0 }?.create(topic)
            return nil
        }
        let index = Int(isTransaction ? transactionPartition(key) : groupPartition(key))
        guard index < topicImage.partitions.count else { return nil }
        let leader = topicImage.partitions[index].leader
        guard let broker = image.brokers[leader], let endpoint = broker.listeners.first else { return nil }
        return CoordinatorNode(nodeId: leader, host: endpoint.host, port: endpoint.port)
    }
}

/// Loads and unloads coordinator state as this broker gains and loses leadership of internal topic
/// partitions, one change at a time, in the order they happened.
final class CoordinatorLoader: Sendable {
    private enum Work: Sendable {
        case load(Partition, epoch: Int32)
        case unload(Partition)
    }

    private let continuation: AsyncStream<Work>.Continuation
    private let task: Task<Void, Never>

    init(groups: GroupCoordinator, transactions: TransactionCoordinator, logger: Logger) {
        let (stream, continuation) = AsyncStream<Work>.makeStream()
        self.continuation = continuation
        self.task = Task {
            for await work in stream {
                switch work {
                case .load(let partition, let epoch):
                    // Leadership may have moved on while this waited.
                    guard partition.leadershipSnapshot.isLeader, partition.leaderEpoch == epoch else { continue }
                    do {
                        if partition.topic == InternalTopics.consumerOffsets {
                            await groups.unloadPartition(partition.index)
                            try await groups.loadPartition(partition.index)
                        } else {
                            await transactions.unloadPartition(partition.index)
                            _ = try await transactions.loadPartition(partition.index, epoch: epoch)
                        }
                        logger.info("coordinator loaded partition", metadata: [
                            "topic": "\(partition.topic)", "partition": "\(partition.index)", "leader_epoch": "\(epoch)"])
                    } catch {
                        logger.error("coordinator could not load partition", metadata: [
                            "topic": "\(partition.topic)", "partition": "\(partition.index)", "error": "\(error)"])
                    }
                case .unload(let partition):
                    if partition.topic == InternalTopics.consumerOffsets {
                        await groups.unloadPartition(partition.index)
                    } else {
                        await transactions.unloadPartition(partition.index)
                    }
                    logger.debug("coordinator unloaded partition", metadata: [
                        "topic": "\(partition.topic)", "partition": "\(partition.index)"])
                }
            }
        }
    }

    deinit {
        continuation.finish()
    }

    /// A role change of a partition (only internal topics' matter).
    func roleChanged(_ partition: Partition, _ transition: RoleTransition) {
        guard partition.topic == InternalTopics.consumerOffsets || partition.topic == InternalTopics.transactionState else { return }
        switch transition {
        case .becameLeader(let epoch):
            continuation.yield(.load(partition, epoch: epoch))
        case .becameFollower, .unassigned:
            continuation.yield(.unload(partition))
        case .unchanged:
            break
        }
    }

    func shutdown() async {
        continuation.finish()
        await task.value
    }
}

extension BrokerCore {
    /// Creates a missing internal topic in the background (cluster mode, first FindCoordinator), with
    /// its configured replication factor; retried by the next FindCoordinator if it fails.
    func createInternalTopicInBackground(_ name: String) {
        let start = internalTopicCreations.withLock { inFlight -> Bool in
            inFlight.insert(name).inserted
        }
        guard start else { return }
        let settings = internalTopicSettings
        Task {
            defer { _ = internalTopicCreations.withLock { $0.remove(name) } }
            guard metadataStore.topic(named: name) == nil else { return }
            let isTransaction = name == InternalTopics.transactionState
            var configs = ["cleanup.policy": "compact"]
            let partitions: Int32
            let factor: Int16
            if isTransaction {
                partitions = settings.transactionPartitions
                factor = settings.transactionReplicationFactor
                configs["segment.bytes"] = "\(settings.transactionSegmentBytes)"
                configs["compression.type"] = "uncompressed"
                configs["min.insync.replicas"] = "\(min(Int32(factor), settings.transactionMinIsr))"
            } else {
                partitions = settings.offsetsPartitions
                factor = settings.offsetsReplicationFactor
                configs["segment.bytes"] = "\(settings.offsetsSegmentBytes)"
            }
            do {
                _ = try await createTopic(name: name, partitions: partitions, replicationFactor: factor, configs: configs,
                                          logger: logger)
            } catch {
                // Clients retry FindCoordinator every second or so: one warning per 10 s is enough.
                let now = ContinuousClock.now
                let warn = internalTopicWarnedAt.withLock { last -> Bool in
                    guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
                    last = now
                    return true
                }
                if warn, metadataStore.topic(named: name) == nil {
                    logger.warning("internal topic not created yet; coordinators are not available", metadata: [
                        "topic": "\(name)", "error": "\(error)"])
                }
            }
        }
    }
}
