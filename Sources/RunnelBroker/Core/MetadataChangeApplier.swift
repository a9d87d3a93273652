// MetadataChangeApplier: applies metadata changes made elsewhere in the cluster to this broker's
// partitions (cluster mode), in revision order.
import Logging
import RunnelCluster

/// Follows `MetadataStore.updates()`: opens the partitions of topics created (or grown) by other
/// brokers, applies changed topic configs, drops deleted topics' partitions, and logs this broker's
/// registration and the controller changing. Leadership changes are the replication work's (issue 12).
struct MetadataChangeApplier: Sendable {
    let core: BrokerCore
    let logger: Logger

    func run() async {
        for await update in core.metadataStore.updates() {
            for change in update.changes { apply(change, image: update.image) }
        }
    }

    private func apply(_ change: MetadataChange, image: MetadataImage) {
        switch change {
        case .topicCreated(let topic), .topicChanged(let topic):
            open(topic.metadata)
        case .topicDeleted(let topic):
            // Only if no topic of this name with another id has been created since (that one stays).
            let open = core.replicas.partitions(of: topic.name)
            guard image.topic(named: topic.name) == nil, open.allSatisfy({ $0.topicId == topic.topicId }) else { return }
            core.replicas.removePartitions(of: topic)
        case .reloaded:
            for topic in image.topics.values { open(topic.metadata) }
        case .registrationChanged(let state):
            switch state {
            case .lost(let reason):
                logger.error("this broker lost its cluster registration; it no longer acts as controller",
                             metadata: ["reason": "\(reason)"])
            case .registered(let epoch):
                logger.info("registered in the cluster", metadata: ["broker_epoch": "\(epoch)"])
            case .unregistered, .shutDown:
                break
            }
        case .controllerChanged(let controller):
            logger.info("controller changed", metadata: ["controller": "\(controller.map { "\($0.nodeId)" } ?? "none")",
                                                         "controller_epoch": "\(controller?.epoch ?? 0)"])
        case .brokerRegistered, .brokerUnregistered, .partitionChanged:
            break
        }
    }

    private func open(_ topic: TopicMetadata) {
        do {
            let config = try core.topicConfigs.logConfig(for: topic)
            try core.replicas.ensurePartitions(of: topic, config: config)
            core.replicas.updateConfig(of: topic.name, to: config)
        } catch {
            logger.error("could not open partitions of a topic created elsewhere", metadata: [
                "topic": "\(topic.name)", "error": "\(error)"])
        }
    }
}
