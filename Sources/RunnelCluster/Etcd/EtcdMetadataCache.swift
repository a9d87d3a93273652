// EtcdMetadataCache: the image built from etcd's keys, and the key revisions compare-and-swaps need.
// Pure state: a full load or a watch batch goes in, the image and the typed changes come out.
import Foundation
import KafkaProtocol
import Logging
import RunnelEtcd

/// What the etcd store knows of the cluster, at `image.revision`.
struct EtcdMetadataCache: Sendable {
    /// A stored topic key and its revisions.
    struct TopicEntry: Sendable {
        var record: EtcdTopicRecord
        var metadata: TopicMetadata
        var createRevision: Int64
        var modRevision: Int64
    }

    /// A stored partition key and its revision.
    struct PartitionEntry: Sendable {
        var record: EtcdPartitionRecord
        var modRevision: Int64
    }

    let layout: EtcdKeyLayout
    private(set) var image: MetadataImage
    private(set) var topicEntries: [String: TopicEntry] = [:]
    private(set) var partitionEntries: [TopicPartition: PartitionEntry] = [:]
    /// The lease holding the controller key (to tell this session's controllership from an older one's).
    private(set) var controllerLease: Int64 = 0
    /// The lease holding each broker's registration.
    private(set) var brokerLeases: [Int32: Int64] = [:]

    init(layout: EtcdKeyLayout) {
        self.layout = layout
        self.image = MetadataImage(clusterId: "")
    }

    /// Rebuilds everything from a range over the cluster's prefix.
    mutating func load(_ keyValues: [EtcdKeyValue], revision: Int64, logger: Logger) {
        self = EtcdMetadataCache(layout: layout)
        _ = apply(keyValues.map { EtcdEvent(kind: .put, keyValue: $0) }, revision: revision, logger: logger)
    }

    /// Applies the events of one revision; returns the changes a broker acts on.
    mutating func apply(_ events: [EtcdEvent], revision: Int64, logger: Logger) -> [MetadataChange] {
        var changes: [MetadataChange] = []
        var touchedTopics: Set<String> = []
        var touchedPartitions: Set<TopicPartition> = []
        var createdTopics: Set<String> = []
        for event in events {
            let kv = event.keyValue
            switch layout.classify(kv.key) {
            case .clusterId:
                if event.kind == .put, let record = decode(EtcdClusterIdRecord.self, kv, logger) { image.clusterId = record.clusterId }
            case .controller:
                if event.kind == .put, let record = decode(EtcdControllerRecord.self, kv, logger) {
                    let info = ControllerInfo(nodeId: record.nodeId, epoch: kv.createRevision)
                    controllerLease = kv.lease
                    if image.controller != info {
                        image.controller = info
                        changes.append(.controllerChanged(info))
                    }
                } else if event.kind == .delete {
                    controllerLease = 0
                    if image.controller != nil {
                        image.controller = nil
                        changes.append(.controllerChanged(nil))
                    }
                }
            case .broker(let id):
                if event.kind == .put, var registration = decode(BrokerRegistration.self, kv, logger) {
                    registration.brokerEpoch = kv.createRevision
                    brokerLeases[id] = kv.lease
                    if image.brokers[id] != registration {
                        image.brokers[id] = registration
                        changes.append(.brokerRegistered(registration))
                    }
                } else if event.kind == .delete, image.brokers.removeValue(forKey: id) != nil {
                    brokerLeases.removeValue(forKey: id)
                    changes.append(.brokerUnregistered(nodeId: id))
                }
            case .topic(let name):
                if event.kind == .put, let record = decode(EtcdTopicRecord.self, kv, logger) {
                    do {
                        let metadata = try record.metadata()
                        let isNew = topicEntries[name]?.metadata.topicId != metadata.topicId
                        if isNew, let old = topicEntries[name] {
                            image.removeTopic(named: name)
                            changes.append(.topicDeleted(old.metadata))
                        }
                        if isNew { createdTopics.insert(name) }
                        topicEntries[name] = TopicEntry(record: record, metadata: metadata, createRevision: kv.createRevision,
                                                        modRevision: kv.modRevision)
                        touchedTopics.insert(name)
                    } catch {
                        logger.error("ignoring unreadable topic record", metadata: ["key": "\(kv.key)", "error": "\(error)"])
                    }
                } else if event.kind == .delete, let old = topicEntries.removeValue(forKey: name) {
                    image.removeTopic(named: name)
                    touchedTopics.remove(name)
                    createdTopics.remove(name)
                    changes.append(.topicDeleted(old.metadata))
                }
            case .partition(let partition):
                if event.kind == .put, let record = decode(EtcdPartitionRecord.self, kv, logger) {
                    partitionEntries[partition] = PartitionEntry(record: record, modRevision: kv.modRevision)
                } else if event.kind == .delete {
                    partitionEntries.removeValue(forKey: partition)
                }
                touchedPartitions.insert(partition)
            case .record(let kind, let key):
                let record = event.kind == .put
                    ? ClusterRecord(kind: kind, key: key, value: String(decoding: kv.value, as: UTF8.self), version: kv.modRevision)
                    : nil
                if let change = image.setRecord(kind, key: key, to: record) { changes.append(change) }
            case .producerIds, .unknown:
                break
            }
        }
        for name in touchedTopics.sorted() {
            guard let topic = rebuildTopic(name) else { continue }
            changes.append(createdTopics.contains(name) ? .topicCreated(topic) : .topicChanged(topic))
        }
        for partition in touchedPartitions.sorted() where !touchedTopics.contains(partition.topic) {
            guard let topic = topicEntries[partition.topic], partition.partition < topic.metadata.partitionCount else { continue }
            let state = partitionState(partition, of: topic)
            if image.partition(partition) != state {
                image.topics[partition.topic]?.partitions[Int(partition.partition)] = state
                changes.append(.partitionChanged(partition, state))
            }
        }
        image.revision = max(image.revision, revision)
        return changes
    }

    /// The state of a partition: its stored record when it belongs to this topic, else the initial state.
    func partitionState(_ partition: TopicPartition, of topic: TopicEntry) -> PartitionState {
        if let stored = partitionEntries[partition], stored.record.topicId == topic.record.topicId {
            return stored.record.state
        }
        let index = Int(partition.partition)
        return .initial(replicas: index < topic.record.assignments.count ? topic.record.assignments[index] : [])
    }

    private mutating func rebuildTopic(_ name: String) -> TopicImage? {
        guard let entry = topicEntries[name] else { return nil }
        let partitions = (0..<entry.metadata.partitionCount).map {
            partitionState(TopicPartition(topic: name, partition: $0), of: entry)
        }
        let topic = TopicImage(metadata: entry.metadata, partitions: partitions)
        image.setTopic(topic)
        return topic
    }

    private func decode<T: Decodable>(_ type: T.Type, _ kv: EtcdKeyValue, _ logger: Logger) -> T? {
        do throws(RecordError) {
            return try EtcdRecordCoding.decode(type, from: kv.value)
        } catch {
            logger.error("ignoring unreadable metadata record", metadata: ["key": "\(kv.key)", "error": "\(error)"])
            return nil
        }
    }
}
