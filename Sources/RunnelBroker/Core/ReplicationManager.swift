// ReplicationManager: cluster mode's glue between the metadata store and the hosted partitions. It
// applies every partition state the store holds (leader, epoch, ISR) to the partition this broker
// hosts, starts and stops following leaders, writes the ISR changes leaders ask for as compare-and-
// swaps fenced by this broker's registration, checks ISR lag periodically, and fences every partition
// the moment the registration is lost (so no two brokers accept acks=all writes for one partition).
import Foundation
import KafkaProtocol
import Logging
import RunnelClient
import RunnelCluster
import Synchronization

/// Applies leadership from the metadata store to this broker's partitions (cluster mode only).
final class ReplicationManager: Sendable {
    let store: any MetadataStore
    let replicas: ReplicaManager
    let fetchers: ReplicaFetcherManager
    let maxLagMs: Int64
    let logger: Logger
    private let isrTask = Mutex<Task<Void, Never>?>(nil)
    private let applying = Mutex(())
    /// Called after a partition's role changed (coordinators load or unload their state).
    let roleListeners = Mutex<[@Sendable (Partition, RoleTransition) -> Void]>([])

    init(store: any MetadataStore, replicas: ReplicaManager, settings: ReplicaFetchSettings, maxLagMs: Int64,
         logger: Logger) {
        self.store = store
        self.replicas = replicas
        self.maxLagMs = maxLagMs
        self.logger = logger
        self.fetchers = ReplicaFetcherManager(nodeId: replicas.nodeId, settings: settings, address: { [store] id in
            store.image.brokers[id].flatMap { settings.link.address(of: $0) }
        }, logger: logger)
        replicas.clusterHooks.withLock { hooks in
            hooks.registrationLive = { [store] in store.registration.isRegistered }
            hooks.isrChange = { [weak self] partition, request in self?.writeIsrChange(partition, request) }
        }
    }

    /// Starts the periodic ISR check (every replica.lag.time.max.ms / 2, as Kafka).
    func start() {
        let interval = Duration.milliseconds(max(maxLagMs / 2, 50))
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)  // a timer, not synchronization
                guard let self else { return }
                let now = Partition.nowMs()
                for partition in self.replicas.allPartitions() { partition.checkIsr(nowMs: now, maxLagMs: self.maxLagMs) }
            }
        }
        isrTask.withLock { $0 = task }
    }

    func shutdown() async {
        isrTask.withLock { $0 }?.cancel()
        for partition in replicas.allPartitions() { partition.fence() }
        await fetchers.shutdown()
    }

    // MARK: Applying the store's states

    /// Applies the state of every partition of every topic in `image` this broker hosts.
    func applyAll(_ image: MetadataImage) {
        guard store.registration.isRegistered else { return }
        for topic in image.topics.values { apply(topic) }
    }

    /// Applies the states of one topic's partitions.
    func apply(_ topic: TopicImage) {
        for (index, state) in topic.partitions.enumerated() {
            guard let partition = replicas.partition(topic: topic.metadata.name, index: Int32(index)) else { continue }
            apply(state, to: partition)
        }
    }

    /// Applies one partition's state.
    func apply(_ state: PartitionState, to partition: Partition) {
        // One application at a time: the role change and the fetcher change it implies happen together
        // (two states applied concurrently must not leave a leader following, or a follower not).
        applying.withLock { _ in applyLocked(state, to: partition) }
    }

    /// Stops following partitions this broker no longer hosts (their topic was deleted): a fetch loop
    /// would otherwise keep asking the leader for them, answered UNKNOWN_TOPIC_OR_PARTITION, for as long
    /// as the process lives — each deleted topic adding to every follower's fetch requests.
    func forget(_ partitions: [Partition]) {
        applying.withLock { _ in
            for partition in partitions { fetchers.stopFollowing(partition) }
        }
    }

    private func applyLocked(_ state: PartitionState, to partition: Partition) {
        guard store.registration.isRegistered else { return }
        // Only a partition still hosted: a state read for one that was dropped meanwhile (its topic
        // deleted) must not start a fetch loop for it again.
        guard replicas.partition(topic: partition.topic, index: partition.index) === partition else { return }
        let transition = partition.apply(state, nowMs: Partition.nowMs())
        switch transition {
        case .unchanged:
            return
        case .becameLeader:
            fetchers.stopFollowing(partition)
        case .unassigned:
            // Reassigned away (a completed reassignment no longer lists this broker): stop following,
            // let the coordinators unload, then drop the partition and delete its log.
            fetchers.stopFollowing(partition)
            for listener in roleListeners.withLock({ $0 }) { listener(partition, transition) }
            logger.info("partition no longer assigned to this broker: deleting its log", metadata: [
                "topic": "\(partition.topic)", "partition": "\(partition.index)", "replicas": "\(state.replicas)",
                "partition_epoch": "\(state.partitionEpoch)"])
            replicas.removePartition(partition)
            return
        case .becameFollower(let leader, let epoch):
            if leader == PartitionState.noLeader {
                fetchers.stopFollowing(partition)
            } else {
                fetchers.follow(partition, leader: leader, epoch: epoch)
            }
        }
        for listener in roleListeners.withLock({ $0 }) { listener(partition, transition) }
    }

    /// The registration was lost: stop leading everything now (the lease may expire any moment and
    /// the controller elect other leaders).
    func fenceAll() {
        for partition in replicas.allPartitions() {
            let wasLeader = partition.leadershipSnapshot.isLeader
            partition.fence()
            if wasLeader {
                for listener in roleListeners.withLock({ $0 }) { listener(partition, .unassigned) }
            }
        }
    }

    // MARK: ISR changes

    /// Writes a leader's ISR change (a compare-and-swap on the partition epoch, valid only while this
    /// broker's registration is the current one); the partition applies the outcome.
    private func writeIsrChange(_ partition: Partition, _ request: IsrChangeRequest) {
        let key = TopicPartition(topic: partition.topic, partition: partition.index)
        Task { [self, store, logger] in
            do {
                let applied = try await store.alterPartition(key, expectedPartitionEpoch: request.partitionEpoch,
                                                             to: request.state, fencing: .brokerEpoch)
                logger.info("ISR changed", metadata: ["topic": "\(key.topic)", "partition": "\(key.partition)",
                                                      "isr": "\(applied.isr)", "reason": "\(request.reason)"])
                partition.isrChangeFinished(applied: applied)
            } catch {
                logger.warning("ISR change refused", metadata: ["topic": "\(key.topic)", "partition": "\(key.partition)",
                                                                "isr": "\(request.state.isr)", "error": "\(error)"])
                // The store's current state (a newer epoch) arrives through the watch; apply it now too.
                partition.isrChangeFinished(applied: nil)
                if let current = store.partitionState(key) { apply(current, to: partition) }
            }
        }
    }
}
