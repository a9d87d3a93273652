// MetadataChangeApplier: applies metadata changes made elsewhere in the cluster to this broker's
// partitions (cluster mode), in revision order.
import Logging
import RunnelCluster

/// Follows `MetadataStore.updates()`: at start deletes the logs of partitions assigned elsewhere only;
/// opens the partitions this broker is a replica of when topics are created (or grown) by other brokers, applies changed topic configs and every partition state (who
/// leads, at which epoch, the ISR) through the replication manager, drops deleted topics' partitions,
/// and fences every partition when this broker's registration is lost.
struct MetadataChangeApplier: Sendable {
    let core: BrokerCore
    let logger: Logger

    func run() async {
        // Whatever happened before the stream started.
        deleteStrayLogs(core.metadataStore.image)
        for topic in core.metadataStore.image.topics.values { await open(topic) }
        core.replication?.applyAll(core.metadataStore.image)
        for await update in core.metadataStore.updates() {
            for change in update.changes { await apply(change, image: update.image) }
        }
    }

    private func apply(_ change: MetadataChange, image: MetadataImage) async {
        switch change {
        case .topicCreated(let topic), .topicChanged(let topic):
            await open(topic)
        case .partitionChanged(let key, let state):
            if let topic = image.topic(named: key.topic) { await open(topic) }
            if let partition = core.replicas.partition(topic: key.topic, index: key.partition) {
                core.replication?.apply(state, to: partition)
            }
        case .topicDeleted(let topic):
            // Only if no topic of this name with another id has been created since (that one stays).
            let open = core.replicas.partitions(of: topic.name)
            guard image.topic(named: topic.name) == nil, open.allSatisfy({ $0.topicId == topic.topicId }) else { return }
            core.dropPartitions(of: topic)
        case .reloaded:
            for topic in image.topics.values { await open(topic) }
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
        case .brokerRegistered, .brokerUnregistered, .recordChanged:
            // Record consumers (aliases, ACLs, credentials) read the image when they answer.
            break
        }
    }

    /// Deletes the logs of partitions the metadata assigns to other brokers only — a reassignment away
    /// from this broker completed while it was down (Kafka's stray replicas). Only for a topic that
    /// exists with the log's topic id, and never for a partition that is open.
    private func deleteStrayLogs(_ image: MetadataImage) {
        let node = core.replicas.nodeId
        for descriptor in core.replicas.logManager.partitions {
            guard let topic = image.topics[descriptor.topic], let id = descriptor.topicId,
                  id == topic.metadata.topicId.foundationUUID,
                  descriptor.partition >= 0, Int(descriptor.partition) < topic.partitions.count,
                  !topic.partitions[Int(descriptor.partition)].replicas.contains(node),
                  core.replicas.partition(topic: descriptor.topic, index: descriptor.partition) == nil else { continue }
            logger.warning("deleting a stray partition log: the metadata assigns the partition to other brokers", metadata: [
                "topic": "\(descriptor.topic)", "partition": "\(descriptor.partition)",
                "replicas": "\(topic.partitions[Int(descriptor.partition)].replicas)"])
            do {
                try core.replicas.logManager.deleteLog(topic: descriptor.topic, partition: descriptor.partition)
            } catch {
                logger.error("could not delete a stray partition log", metadata: [
                    "topic": "\(descriptor.topic)", "partition": "\(descriptor.partition)", "error": "\(error)"])
            }
        }
    }

    /// Opens the partitions of `topic` assigned to this broker, applies its config and its partition states.
    private func open(_ topic: TopicImage) async {
        do {
            let config = try core.topicConfigs.logConfig(for: topic.metadata)
            try await core.replicas.ensurePartitionsOffPool(of: topic.metadata, config: config,
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
