// ClusterController: the broker's side of the cluster controller (cluster mode) — runs the
// `LeadershipController` loop with this broker's settings, and the controlled shutdown on SIGTERM.
import Logging
import Metrics
import RunnelCluster

/// Started by `Broker.run()` when `metadata.store = etcd`; every broker runs it, only the elected
/// controller acts (the loop checks `isController` on every pass).
struct ClusterController: Sendable {
    let core: BrokerCore
    let config: BrokerConfig
    let logger: Logger

    /// The loop's configuration from the broker's settings (`auto.leader.rebalance.enable`,
    /// `leader.imbalance.*`, and each topic's `unclean.leader.election.enable`).
    var configuration: LeadershipController.Configuration {
        let store = core.metadataStore
        let topicConfigs = core.topicConfigs
        let active = Gauge(label: "runnel_cluster_controller_active")
        let offline = Gauge(label: "runnel_cluster_offline_partitions")
        let underReplicated = Gauge(label: "runnel_cluster_under_replicated_partitions")
        return LeadershipController.Configuration(
            autoLeaderRebalance: config.bool(.autoLeaderRebalanceEnable),
            imbalanceCheckInterval: .seconds(config.int(.leaderImbalanceCheckIntervalSeconds)),
            imbalancePerBrokerPercentage: Int(config.int(.leaderImbalancePerBrokerPercentage)),
            allowUnclean: { topic in
                guard let metadata = store.topic(named: topic) else { return false }
                let overrides = (try? TopicConfig.parseOverrides(metadata.configs)) ?? [:]
                return topicConfigs.broker.topicConfig(overrides: overrides).uncleanLeaderElectionEnable
            },
            afterPass: { image, isController in
                // Cluster-wide counts, reported by the controller only (0 elsewhere), as Kafka's
                // ActiveControllerCount and OfflinePartitionsCount.
                active.record(isController ? 1 : 0)
                let partitions = isController ? image.topics.values.flatMap(\.partitions) : []
                offline.record(partitions.filter { $0.leader == PartitionState.noLeader }.count)
                // As Kafka's: replicas still being added by a reassignment do not count.
                underReplicated.record(partitions.filter { $0.isr.count < $0.replicas.count - $0.addingReplicas.count }.count)
            })
    }

    /// Runs the controller loop until the metadata store shuts down or the task is cancelled.
    func run() async {
        await LeadershipController(store: core.metadataStore, configuration: configuration, logger: logger).run()
    }

    /// Controlled shutdown (`controlled.shutdown.enable`): marks this broker as shutting down and
    /// waits, at most `controlled.shutdown.timeout.ms`, until the controller (this broker's own loop
    /// when it is the controller) has moved its leaderships to other ISR members. The broker keeps
    /// serving meanwhile; afterwards the caller unregisters as before.
    func shutDownControlled() async {
        guard config.bool(.controlledShutdownEnable) else { return }
        let timeout = Duration.milliseconds(config.int(.controlledShutdownTimeoutMs))
        let started = ContinuousClock.now
        let result = await core.metadataStore.controlledShutdown(timeout: timeout)
        let elapsed = ContinuousClock.now - started
        let elapsedMs = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        if let error = result.error {
            logger.warning("controlled shutdown not possible; shutting down without moving leadership", metadata: [
                "error": "\(error)"])
        } else if result.remaining.isEmpty {
            logger.info("controlled shutdown complete: leadership moved", metadata: ["elapsed_ms": "\(elapsedMs)"])
        } else {
            logger.warning("controlled shutdown timed out; the controller moves the partitions still led here once this broker has unregistered",
                           metadata: ["remaining": "\(result.remaining.count)", "timeout_ms": "\(config.int(.controlledShutdownTimeoutMs))",
                                      "first": "\(result.remaining.first.map { "\($0.topic)-\($0.partition)" } ?? "")"])
        }
    }
}
