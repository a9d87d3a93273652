// The partitions this broker hosts, by topic and index; creates, opens and removes their logs.
import KafkaProtocol
import Logging
import RunnelCluster
import RunnelStorage
import Synchronization

/// Owns every `Partition` of this node. Lookups are on the hot path: one lock, a dictionary read.
final class ReplicaManager: Sendable {
    private let partitions = Mutex<[String: [Partition?]]>([:])
    let logManager: LogManager
    let nodeId: Int32
    let logger: Logger
    /// Cluster mode: partitions are opened only where this broker is an assigned replica, start fenced
    /// until their metadata state is applied, and the high watermark follows the ISR.
    let clusterMode: Bool
    /// What every partition opened here calls in cluster mode (set once at start).
    let clusterHooks = Mutex(ClusterHooks())
    /// `leader.replication.throttled.rate`: what this broker, leading, sends to replicas catching up in
    /// a reassignment (the fetch handler applies it).
    let leaderThrottle: ReplicationThrottle

    init(logManager: LogManager, nodeId: Int32, clusterMode: Bool = false,
         leaderThrottle: ReplicationThrottle = ReplicationThrottle(rate: .max), logger: Logger) {
        self.logManager = logManager
        self.nodeId = nodeId
        self.clusterMode = clusterMode
        self.leaderThrottle = leaderThrottle
        self.logger = logger
    }

    /// Every hosted partition.
    func allPartitions() -> [Partition] {
        partitions.withLock { $0.values.flatMap { $0.compactMap { $0 } } }
    }

    /// The error for a partition this broker does not host: NOT_LEADER_OR_FOLLOWER when the topic has
    /// it (another broker hosts it), UNKNOWN_TOPIC_OR_PARTITION otherwise.
    func notHostedError(topic: TopicMetadata, index: Int32) -> ErrorCode {
        clusterMode && index >= 0 && index < topic.partitionCount ? .notLeaderOrFollower : .unknownTopicOrPartition
    }

    func partition(topic: String, index: Int32) -> Partition? {
        partitions.withLock { all in
            guard let list = all[topic], index >= 0, Int(index) < list.count else { return nil }
            return list[Int(index)]
        }
    }

    func partitions(of topic: String) -> [Partition] {
        partitions.withLock { ($0[topic] ?? []).compactMap { $0 } }
    }

    /// `ensurePartitions` for async callers, on the blocking-I/O pool when there is something to open:
    /// creating a log writes and fsyncs files (seconds each on a busy disk), which must not hold one of
    /// the cooperative pool's few threads — the etcd lease keeper, the replica fetchers and every
    /// request's task run there. Nothing to open costs a lookup per partition and no thread hop.
    func ensurePartitionsOffPool(of topic: TopicMetadata, config: TopicLogSettings,
                                 assigned: @escaping @Sendable (Int32) -> Bool = { _ in true }) async throws {
        guard (0..<topic.partitionCount).contains(where: { partition(topic: topic.name, index: $0) == nil && assigned($0) }) else {
            return
        }
        try await runBlockingIO { [self] () throws(any Error) in
            try ensurePartitions(of: topic, config: config, assigned: assigned)
        }
    }

    /// Opens or creates the logs of every partition of `topic` that is not open yet (in cluster mode only
    /// those `assigned` says this broker is a replica of).
    func ensurePartitions(of topic: TopicMetadata, config: TopicLogSettings,
                          assigned: (Int32) -> Bool = { _ in true }) throws {
        var firstError: (any Error)?
        for index in 0..<topic.partitionCount where partition(topic: topic.name, index: index) == nil && assigned(index) {
            do {
                let log: PartitionLog
                if let existing = try logManager.log(topic: topic.name, partition: index) {
                    log = existing
                    try existing.updateConfig(config.log)
                } else {
                    do {
                        log = try logManager.createLog(topic: topic.name, partition: index,
                                                       topicId: topic.topicId.foundationUUID, config: config.log)
                    } catch {
                        // The metadata watch and CreateTopics both open a new topic's partitions: the
                        // loser of that race uses the log the winner created.
                        guard let raced = try logManager.log(topic: topic.name, partition: index) else { throw error }
                        log = raced
                    }
                }
                let partition = Partition(topic: topic.name, index: index, topicId: topic.topicId, log: log,
                                          settings: config, localNode: nodeId, logger: logger)
                if clusterMode {
                    // Nothing is served until the metadata store's state for it is applied.
                    partition.leadership.withLock { $0 = .unassigned }
                    let hooks = clusterHooks.withLock { $0 }
                    partition.clusterHooks.withLock { $0 = hooks }
                }
                let kept = partitions.withLock { all -> Bool in
                    var list = all[topic.name] ?? []
                    while list.count <= Int(index) { list.append(nil) }
                    defer { all[topic.name] = list }
                    guard list[Int(index)] == nil else { return false }
                    list[Int(index)] = partition
                    return true
                }
                if kept { partition.listenToAppends() }
            } catch {
                logger.error("partition offline: its log could not be opened",
                             metadata: ["topic": "\(topic.name)", "partition": "\(index)", "error": "\(error)"])
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// Applies changed topic configs to the open partitions at once.
    func updateConfig(of topic: String, to config: TopicLogSettings) {
        for partition in partitions(of: topic) { partition.update(settings: config) }
    }

    /// Drops one partition that is no longer assigned to this broker (a reassignment moved it away) and
    /// deletes its log — only if `partition` is still the one hosted under its topic and index.
    func removePartition(_ partition: Partition) {
        let removed = partitions.withLock { all -> Bool in
            guard var list = all[partition.topic], partition.index >= 0, Int(partition.index) < list.count,
                  list[Int(partition.index)] === partition else { return false }
            list[Int(partition.index)] = nil
            all[partition.topic] = list
            return true
        }
        guard removed else { return }
        closeAndDeleteLog(partition)
    }

    /// Drops a deleted topic's partitions and deletes their logs (asynchronously in storage).
    func removePartitions(of topic: TopicMetadata) {
        let removed = partitions.withLock { $0.removeValue(forKey: topic.name) } ?? []
        for case let partition? in removed { closeAndDeleteLog(partition) }
        // Every partition of the topic shares its traffic series: destroying one removes them.
        removed.lazy.compactMap { $0 }.first?.traffic.destroy()
    }

    /// Closes a partition no longer hosted (parked fetches and acks=all waits answered) and deletes its log.
    private func closeAndDeleteLog(_ partition: Partition) {
        partition.close()
        do {
            try logManager.deleteLog(topic: partition.topic, partition: partition.index)
        } catch {
            logger.error("could not delete partition log",
                         metadata: ["topic": "\(partition.topic)", "partition": "\(partition.index)", "error": "\(error)"])
        }
    }
}
