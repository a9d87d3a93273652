// MetadataChangeApplier: applies metadata changes made elsewhere in the cluster to this broker's
// partitions (cluster mode), in revision order.
import Logging
import RunnelCluster

/// Follows `MetadataStore.updates()`: opens the partitions this broker is a replica of when topics are
/// created (or grown) by other brokers, applies changed topic configs and every partition state (who
/// leads, at which epoch, the ISR) through the replication manager, drops deleted topics' partitions,
/// and fences every partition when this broker's registration is lost.
struct MetadataChangeApplier: Sendable {
    let core: BrokerCore
    let logger: Logger

    func run() async {
        // Whatever happened before the stream started.
        for topic in core.metadataStore.image.topics.values { open(topic) }
        core.replication?.applyAll(core.metadataStore.image)
        for await update in core.metadataStore.updates() {
            for change in update.changes { apply(change, image: update.image) }
        }
    }

    private func apply(_ change: MetadataChange, image: MetadataImage) {
        switch change {
        case .topicCreated(let topic), .topicChanged(let topic):
            open(topic)
        case .partitionChanged(let key, let state):
            if let topic = image.topic(named: key.topic) { open(topic) }
            if let partition = core.replicas.partition(topic: key.topic, index: key.partition) {
                core.replication?.apply(state, to: partition)
            }
        case .topicDeleted(let topic):
            // Only if no topic of this name with another id has been created since (that one stays).
            let open = core.replicas.partitions(of: topic.name)
            guard image.topic(named: topic.name) == nil, open.allSatisfy({ $0.topicId == topic.topicId }) else { return }
            core.replicas.removePartitions(of: topic)
        case .reloaded:
            for topic in image.topics.values { open(topic) }
            core.replication?.applyAll(image)
        case .registrationChanged(let state):
            switch state {
            case .lost(let reason):
                logger.error("this broker lost its cluster registration; it stops leading partitions and acting as controller",
                             metadata: ["reason": "\(reason)"])
                core.replication?.fenceAll()
            case .registered(let epoch):
                logger.info("registered in the cluster", metadata: ["broker_epoch": "\(epoch)"])
                core.replication?.applyAll(image)
            case .unregistered, .shutDown:
                core.replication?.fenceAll()
            }
        case .controllerChanged(let controller):
            logger.info("controller changed", metadata: ["controller": "\(controller.map { "\($0.nodeId)" } ?? "none")",
                                                         "controller_epoch": "\(controller?.epoch ?? 0)"])
        case .brokerRegistered, .brokerUnregistered:
            break
        }
    }

    /// Opens the partitions of `topic` assigned to this broker, applies its config and its partition states.
    private func open(_ topic: TopicImage) {
        do {
            let config = try core.topicConfigs.logConfig(for: topic.metadata)
            try core.replicas.ensurePartitions(of: topic.metadata, config: config,
                                               assigned: topic.assigned(to: core.replicas.nodeId))
            core.replicas.updateConfig(of: topic.metadata.name, to: config)
        } catch {
            logger.error("could not open partitions of a topic", metadata: [
                "topic": "\(topic.metadata.name)", "error": "\(error)"])
        }
        core.replication?.apply(topic)
    }
}

extension TopicImage {
    /// Whether partition `index` has `node` among its replicas.
    func assigned(to node: Int32) -> @Sendable (Int32) -> Bool {
        let states = partitions
        return { index in
            index >= 0 && Int(index) < states.count && states[Int(index)].replicas.contains(node)
        }
    }
}
