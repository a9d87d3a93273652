// The single-node metadata store: topics, cluster id and producer-id blocks in one JSON file,
// replaced atomically (write temp, fsync, rename, fsync dir) on every change.
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

    enum CodingKeys: String, CodingKey {
        case version, clusterId = "cluster_id", nodeId = "node_id", topics, nextProducerIdBlock = "next_producer_id_block"
    }
}

/// The store's in-memory state: the persisted snapshot and the producer-id cursor inside its block.
struct State: Sendable {
    var snapshot: MetadataSnapshot
    var producerIdNext: Int64
}

/// Cluster metadata of a single node, kept in `<metadata dir>/runnel-metadata.json`.
public final class LocalMetadataStore: MetadataStore {
    public let path: String
    private let state: Mutex<State>
    private let logger: Logger
    /// How many producer ids are reserved per persisted block.
    static let producerIdBlockSize: Int64 = 1000

    /// Opens (or creates) the store in `directory`. A corrupt file is an error, never silently replaced.
    public init(directory: String, nodeId: Int32, logger: Logger) throws(MetadataStoreError) {
        self.path = directory + "/runnel-metadata.json"
        self.logger = logger
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
        // Ids of a block reserved by an earlier run are never reused: start after the persisted block.
        self.state = Mutex(State(snapshot: snapshot, producerIdNext: snapshot.nextProducerIdBlock))
    }

    public var clusterId: String { state.withLock { $0.snapshot.clusterId } }
    public var nodeId: Int32 { state.withLock { $0.snapshot.nodeId } }

    public func topics() -> [TopicMetadata] {
        state.withLock { Array($0.snapshot.topics.values) }.sorted { $0.name < $1.name }
    }

    public func topic(named name: String) -> TopicMetadata? {
        state.withLock { $0.snapshot.topics[name] }
    }

    public func topic(id: KafkaUUID) -> TopicMetadata? {
        state.withLock { s in s.snapshot.topics.values.first { $0.topicId == id } }
    }

    public func createTopic(_ topic: TopicMetadata) throws(MetadataStoreError) {
        try update { snapshot throws(MetadataStoreError) in
            guard snapshot.topics[topic.name] == nil else { throw .topicAlreadyExists(topic.name) }
            snapshot.topics[topic.name] = topic
        }
    }

    public func deleteTopic(named name: String) throws(MetadataStoreError) -> TopicMetadata {
        var removed: TopicMetadata?
        try update { snapshot throws(MetadataStoreError) in
            guard let existing = snapshot.topics.removeValue(forKey: name) else { throw .unknownTopic(name) }
            removed = existing
        }
        guard let removed else { throw .unknownTopic(name) }
        return removed
    }

    public func setPartitionCount(topic name: String, to count: Int32) throws(MetadataStoreError) {
        try update { snapshot throws(MetadataStoreError) in
            guard var topic = snapshot.topics[name] else { throw .unknownTopic(name) }
            guard count > topic.partitionCount else {
                throw .invalidPartitions(name, reason: "Topic currently has \(topic.partitionCount) partitions, which is higher than the requested \(count).")
            }
            topic.partitionCount = count
            snapshot.topics[name] = topic
        }
    }

    public func setConfigs(topic name: String, to configs: [String: String]) throws(MetadataStoreError) {
        try update { snapshot throws(MetadataStoreError) in
            guard var topic = snapshot.topics[name] else { throw .unknownTopic(name) }
            topic.configs = configs
            snapshot.topics[name] = topic
        }
    }

    /// A producer id never handed out before, also across restarts: ids come from blocks whose end
    /// is persisted before any id of the block is used.
    public func nextProducerId() throws(MetadataStoreError) -> Int64 {
        try state.withLock { current throws(MetadataStoreError) in
            if current.producerIdNext >= current.snapshot.nextProducerIdBlock {
                var next = current.snapshot
                current.producerIdNext = max(current.producerIdNext, next.nextProducerIdBlock)
                next.nextProducerIdBlock = current.producerIdNext + Self.producerIdBlockSize
                try Self.write(next, to: path)
                current.snapshot = next
            }
            defer { current.producerIdNext += 1 }
            return current.producerIdNext
        }
    }

    /// Applies `change` and persists the result before anyone sees it.
    private func update(_ change: (inout MetadataSnapshot) throws(MetadataStoreError) -> Void) throws(MetadataStoreError) {
        try state.withLock { current throws(MetadataStoreError) in
            var next = current.snapshot
            try change(&next)
            try Self.write(next, to: path)
            current.snapshot = next
        }
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
