// The single-node metadata store: topics, cluster id and producer-id blocks in one JSON file,
// replaced atomically (write temp, fsync, rename, fsync dir) on every change. This node is the only
// broker and the controller; every partition has replicas [self], leader self, ISR [self].
import Foundation
import KafkaProtocol
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the store persists.
struct MetadataSnapshot: Codable, Sendable {
    var version: Int = 1
    var clusterId: String
    var nodeId: Int32
    var topics: [String: TopicMetadata] = [:]
    /// Producer ids below this value have been handed out (or reserved) already.
    var nextProducerIdBlock: Int64 = 0
    /// Cluster records by kind, then key (absent in files written before records existed).
    var records: [String: [String: StoredClusterRecord]]?
    /// The version of the last record write; the next write's records get this + 1.
    var recordVersion: Int64?

    enum CodingKeys: String, CodingKey {
        case version, clusterId = "cluster_id", nodeId = "node_id", topics, nextProducerIdBlock = "next_producer_id_block"
        case records, recordVersion = "record_version"
    }
}

/// A cluster record as the local file keeps it.
struct StoredClusterRecord: Codable, Sendable, Equatable {
    var value: String
    var version: Int64
}

/// The store's in-memory state: the persisted snapshot and the image built from it.
struct State: Sendable {
    var snapshot: MetadataSnapshot
    var image: MetadataImage
    /// Partition states changed through `alterPartition` (kept in memory: a single node's state is
    /// always leader self, ISR [self], so nothing of it needs to survive a restart).
    var alteredPartitions: [TopicPartition: PartitionState] = [:]
}

/// Cluster metadata of a single node, kept in `<metadata dir>/runnel-metadata.json`. The file format is
/// decision 0001's; partition states and the broker registration are derived (this node only).
public final class LocalMetadataStore: MetadataStore {
    public let path: String
    public let nodeId: Int32
    private let registrationRecord: BrokerRegistration
    private let state: Mutex<State>
    private let broadcaster = MetadataUpdateBroadcaster()
    private let logger: Logger
    /// How many producer ids are reserved per persisted block.
    static let producerIdBlockSize: Int64 = 1000

    /// Opens (or creates) the store in `directory`. A corrupt file is an error, never silently replaced.
    /// `registration` describes this node (its listeners and rack), for `image.brokers`.
    public init(directory: String, nodeId: Int32, registration: BrokerRegistration? = nil,
                logger: Logger) throws(MetadataStoreError) {
        self.path = directory + "/runnel-metadata.json"
        self.logger = logger
        self.nodeId = nodeId
        self.registrationRecord = registration ?? BrokerRegistration(nodeId: nodeId, listeners: [])
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .storage(path: directory, reason: "\(error)")
        }
        var snapshot: MetadataSnapshot
        if let data = FileManager.default.contents(atPath: path) {
            do {
                snapshot = try JSONDecoder().decode(MetadataSnapshot.self, from: data)
            } catch {
                throw .corrupt(path: path, reason: "\(error)")
            }
            if snapshot.nodeId != nodeId {
                logger.warning("metadata node.id differs from config; using the configured one",
                               metadata: ["stored": "\(snapshot.nodeId)", "configured": "\(nodeId)"])
                snapshot.nodeId = nodeId
            }
        } else {
            snapshot = MetadataSnapshot(clusterId: KafkaUUID.random().description, nodeId: nodeId)
            try Self.write(snapshot, to: path)
            logger.info("created cluster metadata", metadata: ["cluster_id": "\(snapshot.clusterId)", "path": "\(path)"])
        }
        var initial = State(snapshot: snapshot, image: MetadataImage(clusterId: snapshot.clusterId))
        Self.rebuildImage(&initial, registration: registrationRecord, revision: 1)
        self.state = Mutex(initial)
    }

    public var image: MetadataImage { state.withLock { $0.image } }
    public var registration: RegistrationState { .registered(brokerEpoch: 0) }
    public var isController: Bool { true }

    public func updates() -> AsyncStream<MetadataUpdate> { broadcaster.subscribe() }

    public func createTopic(_ topic: TopicMetadata, assignments: [[Int32]]) async throws(MetadataStoreError) {
        try validateAssignments(assignments, topic: topic.name)
        guard assignments.count == Int(topic.partitionCount) else {
            throw .invalidReplicaAssignment(topic.name, reason: "\(assignments.count) replica assignments for \(topic.partitionCount) partitions")
        }
        try await runBlockingIO { [self] () throws(MetadataStoreError) in
            try update { snapshot throws(MetadataStoreError) in
                guard snapshot.topics[topic.name] == nil,
                      !ClusterRecordKind.topicNameKinds.contains(where: { snapshot.records?[$0.rawValue]?[topic.name] != nil })
                else { throw .topicAlreadyExists(topic.name) }
                snapshot.topics[topic.name] = topic
            } changes: { image in image.topic(named: topic.name).map { [.topicCreated($0)] } ?? [] }
        }
    }

    public func deleteTopic(named name: String) async throws(MetadataStoreError) -> TopicMetadata {
        guard let existing = topic(named: name) else { throw .unknownTopic(name) }
        try await runBlockingIO { [self] () throws(MetadataStoreError) in
            try update { snapshot throws(MetadataStoreError) in
                guard snapshot.topics.removeValue(forKey: name) != nil else { throw .unknownTopic(name) }
            } changes: { _ in [.topicDeleted(existing)] }
        }
        return existing
    }

    public func setPartitionCount(topic name: String, to count: Int32,
                                  newAssignments: [[Int32]]) async throws(MetadataStoreError) {
        try validateAssignments(newAssignments, topic: name)
        try await runBlockingIO { [self] () throws(MetadataStoreError) in
            try update { snapshot throws(MetadataStoreError) in
                guard var topic = snapshot.topics[name] else { throw .unknownTopic(name) }
                guard count > topic.partitionCount else {
                    throw .invalidPartitions(name, reason: "Topic currently has \(topic.partitionCount) partitions, which is higher than the requested \(count).")
                }
                guard newAssignments.count == Int(count - topic.partitionCount) else {
                    throw .invalidReplicaAssignment(name, reason: "Increasing the number of partitions by \(count - topic.partitionCount) but \(newAssignments.count) assignments provided.")
                }
                topic.partitionCount = count
                snapshot.topics[name] = topic
            } changes: { image in image.topic(named: name).map { [.topicChanged($0)] } ?? [] }
        }
    }

    public func setConfigs(topic name: String, to configs: [String: String]) async throws(MetadataStoreError) {
        try await runBlockingIO { [self] () throws(MetadataStoreError) in
            try update { snapshot throws(MetadataStoreError) in
                guard var topic = snapshot.topics[name] else { throw .unknownTopic(name) }
                topic.configs = configs
                snapshot.topics[name] = topic
            } changes: { image in image.topic(named: name).map { [.topicChanged($0)] } ?? [] }
        }
    }

    /// A block of ids never handed out before, also across restarts: the block's end is persisted
    /// before any of its ids is used.
    public func allocateProducerIdBlock() async throws(MetadataStoreError) -> ProducerIdBlock {
        try await runBlockingIO { [self] () throws(MetadataStoreError) in
            try state.withLock { current throws(MetadataStoreError) in
                var next = current.snapshot
                let block = ProducerIdBlock(firstProducerId: next.nextProducerIdBlock, size: Self.producerIdBlockSize)
                next.nextProducerIdBlock = block.end
                try Self.write(next, to: path)
                current.snapshot = next
                return block
            }
        }
    }

    public func alterPartition(_ partition: TopicPartition, expectedPartitionEpoch: Int32, to newState: PartitionState,
                               fencing: MetadataWriteFencing) async throws(MetadataStoreError) -> PartitionState {
        try validateAssignments([newState.replicas], topic: partition.topic)
        return try state.withLock { current throws(MetadataStoreError) in
            guard let existing = current.image.partition(partition) else { throw .unknownPartition(partition) }
            guard existing.partitionEpoch == expectedPartitionEpoch else {
                throw .stalePartitionEpoch(partition, expected: expectedPartitionEpoch, current: existing.partitionEpoch)
            }
            if case .controllerEpoch(let epoch) = fencing, epoch != 0 {
                throw .fenced("controller epoch \(epoch) is not the current one (0)")
            }
            var stored = newState
            stored.partitionEpoch = expectedPartitionEpoch + 1
            current.alteredPartitions[partition] = stored
            Self.rebuildImage(&current, registration: registrationRecord, revision: current.image.revision + 1)
            broadcaster.publish(MetadataUpdate(revision: current.image.revision, changes: [.partitionChanged(partition, stored)],
                                               image: current.image))
            return stored
        }
    }

    public func writeRecords(_ writes: [ClusterRecordWrite]) async throws(MetadataStoreError) -> [ClusterRecord?] {
        try ClusterRecordLimits.validate(writes)
        return try await runBlockingIO { [self] () throws(MetadataStoreError) in
            var stored: [ClusterRecord?] = []
            try update { snapshot throws(MetadataStoreError) in
                let version = (snapshot.recordVersion ?? 0) + 1
                var records = snapshot.records ?? [:]
                for write in writes {
                    let current = records[write.kind.rawValue]?[write.key].map {
                        ClusterRecord(kind: write.kind, key: write.key, value: $0.value, version: $0.version)
                    }
                    guard write.accepts(current) else {
                        throw .recordVersionMismatch(write.kind, key: write.key, expected: write.expectedVersion ?? 0,
                                                     current: current?.version)
                    }
                    if case .put = write.operation, write.kind.sharesTopicNames, snapshot.topics[write.key] != nil {
                        throw .topicAlreadyExists(write.key)
                    }
                }
                stored = writes.map { write in
                    switch write.operation {
                    case .put(let value):
                        records[write.kind.rawValue, default: [:]][write.key] = StoredClusterRecord(value: value, version: version)
                        return ClusterRecord(kind: write.kind, key: write.key, value: value, version: version)
                    case .delete:
                        records[write.kind.rawValue]?.removeValue(forKey: write.key)
                        if records[write.kind.rawValue]?.isEmpty == true { records.removeValue(forKey: write.kind.rawValue) }
                        return nil
                    }
                }
                snapshot.records = records
                snapshot.recordVersion = version
            } changes: { image in
                writes.map { .recordChanged($0.kind, key: $0.key, record: image.record($0.kind, key: $0.key)) }
            }
            return stored
        }
    }

    /// A single node leads every partition and has nobody to hand it to.
    public func requestControlledShutdown() async throws(MetadataStoreError) {}

    public func shutdown() async { broadcaster.finish() }

    /// A single node can only place replicas on itself.
    private func validateAssignments(_ assignments: [[Int32]], topic: String) throws(MetadataStoreError) {
        for replicas in assignments where replicas != [nodeId] {
            throw .invalidReplicaAssignment(topic, reason: "Replica assignment \(replicas) names brokers other than this single node (\(nodeId)).")
        }
    }

    /// Applies `change`, persists the result before anyone sees it, then publishes the changes. Callers
    /// run it through `runBlockingIO` (the file replacement fsyncs twice).
    private func update(_ change: (inout MetadataSnapshot) throws(MetadataStoreError) -> Void,
                        changes: (MetadataImage) -> [MetadataChange]) throws(MetadataStoreError) {
        try state.withLock { current throws(MetadataStoreError) in
            var next = current.snapshot
            try change(&next)
            try Self.write(next, to: path)
            current.snapshot = next
            Self.rebuildImage(&current, registration: registrationRecord, revision: current.image.revision + 1)
            broadcaster.publish(MetadataUpdate(revision: current.image.revision, changes: changes(current.image),
                                               image: current.image))
        }
    }

    /// The image of the snapshot: this node as the only broker and the controller, every partition led by it.
    private static func rebuildImage(_ state: inout State, registration: BrokerRegistration, revision: Int64) {
        let nodeId = state.snapshot.nodeId
        var image = MetadataImage(clusterId: state.snapshot.clusterId, revision: revision)
        image.brokers = [nodeId: registration]
        image.controller = ControllerInfo(nodeId: nodeId, epoch: 0)
        state.alteredPartitions = state.alteredPartitions.filter { state.snapshot.topics[$0.key.topic] != nil }
        for topic in state.snapshot.topics.values {
            let partitions = (0..<topic.partitionCount).map { index in
                state.alteredPartitions[TopicPartition(topic: topic.name, partition: index)]
                    ?? PartitionState.initial(replicas: [nodeId])
            }
            image.setTopic(TopicImage(metadata: topic, partitions: partitions))
        }
        for (kind, records) in state.snapshot.records ?? [:] where !records.isEmpty {
            image.records[ClusterRecordKind(rawValue: kind)] = records.reduce(into: [:]) { result, entry in
                result[entry.key] = ClusterRecord(kind: ClusterRecordKind(rawValue: kind), key: entry.key,
                                                  value: entry.value.value, version: entry.value.version)
            }
        }
        state.image = image
    }

    private static func write(_ snapshot: MetadataSnapshot, to path: String) throws(MetadataStoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(snapshot) } catch { throw .storage(path: path, reason: "\(error)") }
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .storage(path: temp, reason: String(cString: strerror(errno))) }
        let written = data.withUnsafeBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, base + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; return -1 }
                done += n
            }
            return done
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced else {
            throw .storage(path: temp, reason: String(cString: strerror(errno)))
        }
        guard rename(temp, path) == 0 else { throw .storage(path: path, reason: String(cString: strerror(errno))) }
        let directory = (path as NSString).deletingLastPathComponent
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
    }
}
