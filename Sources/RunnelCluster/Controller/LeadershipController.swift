// LeadershipController: the controller's partition-leadership loop. While this broker is the elected
// controller it keeps every partition's leader and ISR consistent with the live brokers (failover,
// controlled shutdown, offline partitions coming back) and runs the automatic preferred-leader
// rebalance. Every write is fenced on the controller epoch.
import KafkaProtocol
import Logging

/// Runs on every broker; acts only while `store.isController`.
///
/// It is state-driven, not event-driven: any metadata update (and a periodic tick, which also retries
/// writes that failed) triggers one pass that compares the whole image with `LeaderElection`'s rules
/// and writes the differences. Triggers that arrive during a pass collapse into one more pass, so a
/// burst of changes costs at most two passes, and a missed or reordered event cannot leave a partition
/// stale.
public final class LeadershipController: Sendable {
    /// How the controller behaves.
    public struct Configuration: Sendable {
        /// `auto.leader.rebalance.enable`.
        public var autoLeaderRebalance: Bool
        /// `leader.imbalance.check.interval.seconds`.
        public var imbalanceCheckInterval: Duration
        /// `leader.imbalance.per.broker.percentage`.
        public var imbalancePerBrokerPercentage: Int
        /// How often a pass runs without any update (retries failed writes).
        public var reconcileInterval: Duration
        /// Partitions written concurrently in one pass.
        public var concurrentWrites: Int
        /// Whether a topic allows unclean leader election (`unclean.leader.election.enable`).
        public var allowUnclean: @Sendable (String) -> Bool
        /// Called after every pass with the image and whether this broker acted as controller (metrics).
        public var afterPass: (@Sendable (_ image: MetadataImage, _ isController: Bool) -> Void)?

        public init(autoLeaderRebalance: Bool = true, imbalanceCheckInterval: Duration = .seconds(300),
                    imbalancePerBrokerPercentage: Int = 10, reconcileInterval: Duration = .seconds(2),
                    concurrentWrites: Int = 16, allowUnclean: @escaping @Sendable (String) -> Bool = { _ in false },
                    afterPass: (@Sendable (_ image: MetadataImage, _ isController: Bool) -> Void)? = nil) {
            self.autoLeaderRebalance = autoLeaderRebalance
            self.imbalanceCheckInterval = imbalanceCheckInterval
            self.imbalancePerBrokerPercentage = imbalancePerBrokerPercentage
            self.reconcileInterval = reconcileInterval
            self.concurrentWrites = concurrentWrites
            self.allowUnclean = allowUnclean
            self.afterPass = afterPass
        }
    }

    public let store: any MetadataStore
    public let configuration: Configuration
    private let writer: PartitionStateWriter
    private let logger: Logger

    public init(store: any MetadataStore, configuration: Configuration = Configuration(), logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.writer = PartitionStateWriter(store: store, logger: logger)
    }

    /// The controller epoch this broker may write with, or nil when it is not the controller.
    var controllerEpoch: Int64? {
        guard store.isController, let controller = store.image.controller, controller.nodeId == store.nodeId else { return nil }
        return controller.epoch
    }

    /// Runs until the store's updates end (shutdown) or the task is cancelled.
    public func run() async {
        let (triggers, trigger) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let updates = store.updates()
        let interval = configuration.reconcileInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in updates { trigger.yield() }
                trigger.finish()
            }
            group.addTask {
                while true {
                    do { try await Task.sleep(for: interval) } catch { return }
                    trigger.yield()
                }
            }
            trigger.yield()
            var activeEpoch: Int64?
            var lastRebalance = ContinuousClock.now
            for await _ in triggers {
                guard let epoch = controllerEpoch else {
                    activeEpoch = nil
                    configuration.afterPass?(store.image, false)
                    continue
                }
                if activeEpoch != epoch {
                    activeEpoch = epoch
                    lastRebalance = .now  // the first rebalance check waits one interval, as Kafka's
                    logger.info("controller active: reconciling partition leadership", metadata: [
                        "node_id": "\(store.nodeId)", "controller_epoch": "\(epoch)"])
                }
                await reconcile(epoch: epoch)
                if configuration.autoLeaderRebalance, ContinuousClock.now - lastRebalance >= configuration.imbalanceCheckInterval {
                    lastRebalance = .now
                    await rebalance(epoch: epoch)
                }
                configuration.afterPass?(store.image, true)
            }
            group.cancelAll()
        }
    }

    /// One pass of the failover rules, then of reassignment completion, over the whole image; returns
    /// the number of partitions changed. A partition that needs a failover change gets that first; its
    /// reassignment completes on a later pass (the change triggers one).
    @discardableResult
    func reconcile(epoch: Int64) async -> Int {
        let allowUnclean = configuration.allowUnclean
        let image = store.image
        let failovers = LeaderElection.reconcile(image: image, allowUnclean: allowUnclean).map(\.partition)
        let failing = Set(failovers)
        let completions = PartitionReassignment.completions(image: image).map(\.partition).filter { !failing.contains($0) }
        guard !failovers.isEmpty || !completions.isEmpty else { return 0 }
        return await write(failovers + completions, epoch: epoch) { partition, state, liveness in
            if let failover = LeaderElection.reconcile(state, liveness: liveness, allowUnclean: allowUnclean(partition.topic)) {
                return .success(failover)
            }
            return PartitionReassignment.complete(state, liveness: liveness).map { .success($0) }
        }
    }

    /// The automatic preferred-leader rebalance (`auto.leader.rebalance.enable`).
    @discardableResult
    func rebalance(epoch: Int64) async -> Int {
        let partitions = LeaderElection.imbalancedPartitions(image: store.image,
                                                             imbalancePercentage: configuration.imbalancePerBrokerPercentage)
        guard !partitions.isEmpty else { return 0 }
        logger.info("leader imbalance above leader.imbalance.per.broker.percentage: electing preferred leaders",
                    metadata: ["partitions": "\(partitions.count)"])
        return await write(partitions, epoch: epoch) { _, state, liveness in
            // A failed preferred election is simply not done here: the next check tries again.
            guard case .success(let decision) = LeaderElection.elect(.preferred, state, liveness: liveness) else { return nil }
            return .success(decision)
        }
    }

    /// Writes the partitions' decisions, `concurrentWrites` at a time; returns how many changed. Failed
    /// writes are reported in one line; the next pass tries them again.
    private func write(_ partitions: [TopicPartition], epoch: Int64, decide: @escaping PartitionStateWriter.Decision) async -> Int {
        let writer = self.writer
        let width = max(1, configuration.concurrentWrites)
        let (changed, failures) = await withTaskGroup(of: (TopicPartition, PartitionWriteOutcome).self) { group in
            var changed = 0
            var failures: [(TopicPartition, MetadataStoreError)] = []
            var pending = partitions[...]
            func startNext() {
                guard let partition = pending.popFirst() else { return }
                group.addTask { (partition, await writer.write(partition, fencing: .controllerEpoch(epoch), decide: decide)) }
            }
            for _ in 0..<width { startNext() }
            while let (partition, outcome) = await group.next() {
                switch outcome {
                case .changed: changed += 1
                case .failed(let error): failures.append((partition, error))
                case .unchanged, .notElected: break
                }
                startNext()
            }
            return (changed, failures)
        }
        if let (partition, error) = failures.first {
            logger.warning("partition state changes not written; the next pass retries them", metadata: [
                "failed": "\(failures.count)", "controller_epoch": "\(epoch)",
                "first": "\(partition.topic)-\(partition.partition)", "error": "\(error)"])
        }
        return changed
    }
}
