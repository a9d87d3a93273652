// The broker's shared services, handed to every handler: metadata, partitions, settings, sessions.
import KafkaProtocol
import Logging
import NIOCore
import RunnelCluster
import RunnelGroups
import RunnelStorage
import RunnelTransactions
import Synchronization

/// Everything a handler may use. Handlers are extensions of this type, one file per API family.
final class BrokerCore: Sendable {
    let metadataStore: any MetadataStore
    let replicas: ReplicaManager
    let settings: BrokerSettings
    let topicConfigs: TopicConfigResolver
    let fetchSessions: FetchSessionCache
    let groupCoordinator: GroupCoordinator
    let groupRequests: GroupRequests
    let transactionCoordinator: TransactionCoordinator
    let transactionRequests: TransactionRequests
    /// The in-process marker path (the transaction coordinator's, and the WriteTxnMarkers API's).
    let markerWriter: PartitionMarkerWriter
    /// Producer ids for InitProducerId, from blocks the metadata store reserves.
    let producerIds: ProducerIdManager
    /// Cluster mode: applies the metadata store's partition states (leaders, ISRs) and follows leaders.
    let replication: ReplicationManager?
    /// Cluster mode: one connection per broker for markers and transaction verification.
    let brokerLinks: BrokerLinkPool?
    /// Cluster mode: KIP-890 verification with a transaction coordinator on another broker.
    let remoteTransactionVerifier: RemoteTransactionVerifier?
    /// Cluster mode: loads and unloads coordinator state as internal partitions' leadership moves.
    let coordinatorLoader: CoordinatorLoader?
    /// Internal topics being created in the background (cluster mode).
    let internalTopicCreations = Mutex<Set<String>>([])
    /// When the last "internal topic not created yet" warning was logged.
    let internalTopicWarnedAt = Mutex<ContinuousClock.Instant?>(nil)
    /// Transactional batches waiting for the coordinator keep their producer's order per partition.
    let transactionalAppendOrder = TransactionalAppendOrder()
    /// The ACL authorizer (allows everything until `authorizer.class.name` installs one; Security/).
    let access = AccessControl()
    /// Client quotas (byte rates per user / client id) from the metadata store's `quota` records (Quotas/).
    let quotas = ClientQuotaManager()
    var internalTopicSettings: InternalTopicSettings { settings.internalTopics }
    let logger: Logger
    /// `runnel_errors_total{api,error}`: the error codes responses carry.
    let errorMetrics = ErrorCodeMetrics()
    /// The topic ids each client learned through aliases or by name (stale alias ids in Fetch).
    let clientTopicIds = ClientTopicIds()

    init(metadataStore: any MetadataStore, replicas: ReplicaManager, settings: BrokerSettings,
         topicConfigs: TopicConfigResolver, groupConfig: GroupCoordinatorConfig,
         transactionConfig: TransactionCoordinatorConfig, logger: Logger) {
        self.metadataStore = metadataStore
        self.replicas = replicas
        self.settings = settings
        self.topicConfigs = topicConfigs
        self.fetchSessions = FetchSessionCache(maxSessions: settings.fetchSessionCacheSlots)
        self.logger = logger
        self.replication = replicas.clusterMode
            ? ReplicationManager(store: metadataStore, replicas: replicas, settings: settings.replicaFetch,
                                 maxLagMs: settings.replicaLagTimeMaxMs, logger: logger)
            : nil
        let coordinator = GroupCoordinator(config: groupConfig, store: ConsumerOffsetsLog(replicas: replicas),
                                           logger: logger)
        self.groupCoordinator = coordinator
        let node = CoordinatorNode(nodeId: settings.nodeId, host: settings.advertisedHost, port: settings.advertisedPort)
        let transactionPartitions = settings.internalTopics.transactionPartitions
        let locator = CoordinatorLocator(
            store: metadataStore, clusterMode: replicas.clusterMode, localNode: node,
            groupPartition: { [coordinator] in coordinator.partition(for: $0) },
            transactionPartition: { CoordinatorPartitioner.partition(for: $0, partitionCount: transactionPartitions) })
        self.groupRequests = GroupRequests(coordinator: coordinator,
                                           catalog: MetadataGroupTopicCatalog(metadata: metadataStore),
                                           locateCoordinator: { [locator] in locator.locate(keyType: $0, key: $1) })
        let markers = PartitionMarkerWriter(replicas: replicas) { [coordinator] partition, producerId, epoch, commit in
            await coordinator.completeTransaction(partition: partition, producerId: producerId, producerEpoch: epoch,
                                                  commit: commit)
        }
        let producerIds = ProducerIdManager(metadata: metadataStore, logger: logger)
        self.producerIds = producerIds
        // Cluster mode: markers reach partitions led elsewhere, verification a coordinator elsewhere.
        let links = replicas.clusterMode ? BrokerLinkPool(store: metadataStore, nodeId: settings.nodeId, link: settings.replicaFetch.link) : nil
        self.brokerLinks = links
        let coordinatorMarkers: any TransactionMarkerWriter = links.map {
            ClusterMarkerWriter(local: markers, store: metadataStore, links: $0, nodeId: settings.nodeId, logger: logger)
        } ?? markers
        let remoteVerifier = links.map { RemoteTransactionVerifier(locator: locator, links: $0, nodeId: settings.nodeId) }
        self.remoteTransactionVerifier = remoteVerifier
        let transactions = TransactionCoordinator(config: transactionConfig, store: TransactionStateLog(replicas: replicas),
                                                  markers: coordinatorMarkers, producerIds: producerIds, logger: logger)
        self.transactionCoordinator = transactions
        self.markerWriter = markers
        groupRequests.transactionVerifier = BrokerTransactionVerifier(coordinator: transactions, replicas: replicas,
                                                                      remote: remoteVerifier)
        self.transactionRequests = TransactionRequests(coordinator: transactions,
                                                       catalog: MetadataTransactionTopicCatalog(metadata: metadataStore))
        if let replication {
            let loader = CoordinatorLoader(groups: coordinator, transactions: transactions, logger: logger)
            self.coordinatorLoader = loader
            replication.roleListeners.withLock { $0.append { [loader] in loader.roleChanged($0, $1) } }
        } else {
            self.coordinatorLoader = nil
        }
        locator.internalTopicCreator.withLock { creator in
            creator = InternalTopicCreator { [weak self] name in self?.createInternalTopicInBackground(name) }
        }
    }

    /// Creates `__transaction_state` when missing (compacted, `transaction.state.log.num.partitions`
    /// partitions), loads every partition (single node: this broker leads them all, at coordinator
    /// epoch 0), resumes the markers of prepared transactions and starts the timers. Returns the number
    /// of transactional ids loaded.
    func startTransactionCoordinator(partitions: Int32, segmentBytes: Int64) async throws -> Int {
        let topic = InternalTopics.transactionState
        try await producerIds.prime()
        if replicas.clusterMode {
            // Created on first use; partitions load as this broker becomes their leader.
            await transactionCoordinator.startTimer()
            return 0
        }
        if metadataStore.topic(named: topic) == nil {
            do {
                _ = try await createTopic(name: topic, partitions: partitions, replicationFactor: 1,
                                    configs: ["cleanup.policy": "compact", "segment.bytes": "\(segmentBytes)",
                                              "compression.type": "uncompressed"],
                                    logger: logger)
            } catch {
                if metadataStore.topic(named: topic) == nil { throw error }
            }
        }
        if let existing = metadataStore.topic(named: topic), existing.partitionCount != partitions {
            // Transactional ids are placed by the partition count: the topic's own count is the truth.
            logger.error("__transaction_state has a different partition count than transaction.state.log.num.partitions; transactional ids of the missing partitions are not served",
                         metadata: ["topic_partitions": "\(existing.partitionCount)", "configured": "\(partitions)"])
        }
        var loaded = 0
        for partition in replicas.partitions(of: topic) {
            loaded += try await transactionCoordinator.loadPartition(partition.index, epoch: partition.leaderEpoch)
        }
        await transactionCoordinator.startTimer()
        return loaded
    }

    /// Creates `__consumer_offsets` when missing (compacted, `offsets.topic.num.partitions` partitions),
    /// loads every group from it and starts the coordinator's timers; returns what was loaded.
    func startGroupCoordinator(partitions: Int32, segmentBytes: Int64) async throws -> GroupLoadSummary {
        if replicas.clusterMode {
            // Created on first use; partitions load as this broker becomes their leader.
            await groupCoordinator.startTimer()
            return GroupLoadSummary()
        }
        if metadataStore.topic(named: ConsumerOffsetsLog.topic) == nil {
            do {
                _ = try await createTopic(name: ConsumerOffsetsLog.topic, partitions: partitions, replicationFactor: 1,
                                    configs: ["cleanup.policy": "compact", "segment.bytes": "\(segmentBytes)"],
                                    logger: logger)
            } catch {
                if metadataStore.topic(named: ConsumerOffsetsLog.topic) == nil { throw error }
            }
        }
        let summary = try await groupCoordinator.loadAllPartitions()
        await groupCoordinator.startTimer()
        return summary
    }

    /// Opens the partitions of every known topic (lazy in storage: no segment data is read).
    func loadTopics() {
        for topic in metadataStore.topics() {
            do {
                try replicas.ensurePartitions(of: topic, config: topicConfigs.logConfig(for: topic),
                                              assigned: assignment(of: topic.name))
            } catch {
                logger.error("could not open topic partitions; they stay offline",
                             metadata: ["topic": "\(topic.name)", "error": "\(error)"])
            }
        }
    }

    /// The partition when this broker leads it; else the error a client gets (NOT_LEADER_OR_FOLLOWER
    /// for a partition another broker leads or this one follows, UNKNOWN_TOPIC_OR_PARTITION otherwise).
    /// A client's name resolves through the alias table: an alias acts on its target.
    func leaderPartition(topic name: String, index: Int32) -> LeaderLookup {
        let (topic, hosted) = clientPartition(topic: name, index: index)
        guard let partition = hosted else {
            return .failure(metadataStore.topic(named: topic).map { replicas.notHostedError(topic: $0, index: index) }
                            ?? .unknownTopicOrPartition)
        }
        if let code = partition.leaderCheck() { return .failure(code) }
        return .success(partition)
    }

    /// Which partitions of `topic` this broker hosts: all on a single node, its assigned replicas in
    /// cluster mode.
    func assignment(of topic: String) -> @Sendable (Int32) -> Bool {
        guard replicas.clusterMode else { return { _ in true } }
        guard let image = metadataStore.image.topic(named: topic) else { return { _ in false } }
        return image.assigned(to: replicas.nodeId)
    }

    /// Creates a topic: validation, metadata, then its partition logs.
    /// `assignments` (one replica list per partition) overrides the placement when given.
    func createTopic(name: String, partitions: Int32, replicationFactor: Int16, configs: [String: String],
                     assignments: [[Int32]]? = nil, validateOnly: Bool = false,
                     logger: Logger) async throws(TopicCreationError) -> TopicMetadata {
        if let reason = TopicMetadata.invalidNameReason(name) { throw .init(.invalidTopicException, reason) }
        let count = partitions == -1 ? settings.defaultPartitions : partitions
        guard count > 0 else { throw .init(.invalidPartitions, "Number of partitions must be larger than 0.") }
        let factor = replicationFactor == -1 ? settings.defaultReplicationFactor : replicationFactor
        guard factor > 0 else { throw .init(.invalidReplicationFactor, "Replication factor must be larger than 0.") }
        let live = metadataStore.liveBrokers()
        let brokers = live.map(\.nodeId)
        guard Int(factor) <= brokers.count else {
            throw .init(.invalidReplicationFactor,
                        "Unable to replicate the partition \(factor) time(s): The target replication factor of \(factor) cannot be reached because only \(brokers.count) broker(s) are registered.")
        }
        if metadataStore.topic(named: name) != nil { throw .init(.topicAlreadyExists, "Topic '\(name)' already exists.") }
        if let conflict = TopicAliasRules.topicCreationConflict(name, in: metadataStore.image) {
            throw .init(.topicAlreadyExists, conflict)
        }
        let topic = TopicMetadata(name: name, topicId: KafkaUUID.random(), partitionCount: count,
                                  replicationFactor: factor, configs: configs, isInternal: InternalTopics.contains(name))
        let logConfig: TopicLogSettings
        do {
            logConfig = try topicConfigs.validatedLogConfig(overrides: configs)
        } catch {
            throw .init(.invalidConfig, "\(error)")
        }
        if validateOnly { return topic }
        do {
            try await metadataStore.createTopic(topic, assignments: assignments ?? ReplicaPlacement.assign(
                partitions: count, replicationFactor: factor, brokers: brokers, racks: ReplicaPlacement.racks(of: live),
                start: .random(brokerCount: brokers.count)))
        } catch {
            throw .init(error.errorCode, error.description)
        }
        do {
            try await replicas.ensurePartitionsOffPool(of: topic, config: logConfig, assigned: assignment(of: name))
            if let image = metadataStore.image.topic(named: name) { replication?.apply(image) }
        } catch {
            logger.error("topic created but its partitions could not be opened",
                         metadata: ["topic": "\(name)", "error": "\(error)"])
            throw .init(.kafkaStorageError, "\(error)")
        }
        logger.info("created topic", metadata: ["topic": "\(name)", "partitions": "\(count)", "topic_id": "\(topic.topicId)"])
        return topic
    }
}

/// A partition this broker leads, or the error code for a client.
enum LeaderLookup {
    case success(Partition)
    case failure(ErrorCode)
}

/// A topic creation failure with the Kafka error code and message to send back.
struct TopicCreationError: Error, CustomStringConvertible {
    let errorCode: ErrorCode
    let message: String
    init(_ errorCode: ErrorCode, _ message: String) {
        self.errorCode = errorCode
        self.message = message
    }
    var description: String { message }
}

extension BrokerCore {
    /// A deleted topic's partitions: closed, their logs deleted, and no longer followed — both where the
    /// DeleteTopics request was answered and where the deletion arrives through the metadata watch.
    func dropPartitions(of topic: TopicMetadata) {
        let dropped = replicas.partitions(of: topic.name)
        replicas.removePartitions(of: topic)
        replication?.forget(dropped)
    }
}
