// BrokerStateCollector: the /metrics families computed when the endpoint is scraped — per partition
// (offsets, size, segments, replication), per group (state, members, lag), coordinator counts and
// I/O queue depths — so nothing on the produce or fetch path updates them.
import KafkaProtocol
import RunnelGroups
import RunnelStorage
import RunnelTransactions

/// Walks the hosted partitions, the group coordinator and the transaction coordinator at scrape time.
/// Cost: one partition lock per partition, one hop onto each coordinator actor, no I/O.
struct BrokerStateCollector: Sendable {
    let core: BrokerCore
    let logManager: LogManager

    /// One partition's reading.
    private struct PartitionReading: Sendable {
        var topic: String
        var index: Int32
        var partition: String
        var log: PartitionLogSnapshot
        var isLeader: Bool
        var hasLeader: Bool
        var replicas: Int
        var isr: Int
    }

    /// Reads the partitions, the coordinators and the I/O queues (locks and actors: at normal priority)
    /// and returns the writer of the families, which touches nothing shared (it runs on the metrics
    /// endpoint's low-priority thread, decision 0015).
    func read() async -> @Sendable () -> [UInt8] {
        let readings = partitionReadings()
        let groups = await core.groupCoordinator.metricsSnapshot()
        let transactions = await core.transactionCoordinator.stateCounts()
        let ioQueueDepths = logManager.ioQueueDepths
        let clusterMode = core.replicas.clusterMode
        return { Self.write(readings, groups: groups, transactions: transactions, ioQueueDepths: ioQueueDepths, clusterMode: clusterMode) }
    }

    private static func write(_ readings: [PartitionReading], groups: [GroupMetricsSnapshot], transactions: [TransactionState: Int],
                              ioQueueDepths: [(logDir: String, depth: Int)], clusterMode: Bool) -> [UInt8] {
        var writer = PrometheusTextWriter(reservingCapacity: 256 * (readings.count + groups.count) + 4096)
        writer.family("runnel_build_info", type: "gauge", help: "1, labelled with this broker's Runnel version.")
        writer.sample("runnel_build_info", ["version": RunnelVersion.current], 1)
        writePartitions(readings, clusterMode: clusterMode, to: &writer)
        writeGroups(groups, readings: readings, to: &writer)
        writeCoordinators(groups: groups, transactions: transactions, to: &writer)
        writer.family("runnel_storage_io_queue_depth", type: "gauge",
                      help: "Writes queued in the log dir's I/O engine or waiting for their fsync.")
        for (logDir, depth) in ioQueueDepths {
            writer.sample("runnel_storage_io_queue_depth", ["log_dir": logDir], Int64(depth))
        }
        return writer.bytes
    }

    private func partitionReadings() -> [PartitionReading] {
        core.replicas.allPartitions().map { partition in
            let (isLeader, hasLeader, replicas, isr) = partition.leadership.withLock {
                ($0.isLeader, $0.leader >= 0, $0.replicas.count, $0.isr.count)
            }
            return PartitionReading(topic: partition.topic, index: partition.index, partition: String(partition.index), log: partition.log.snapshot,
                                    isLeader: isLeader, hasLeader: hasLeader, replicas: replicas, isr: isr)
        }.sorted { ($0.topic, $0.index) < ($1.topic, $1.index) }
    }

    private static func writePartitions(_ readings: [PartitionReading], clusterMode: Bool, to writer: inout PrometheusTextWriter) {
        func family(_ name: String, _ help: String, _ value: (PartitionReading) -> Int64) {
            writer.family(name, type: "gauge", help: help)
            for reading in readings {
                writer.sample(name, ["topic": reading.topic, "partition": reading.partition], value(reading))
            }
        }
        family("runnel_partition_log_end_offset", "Offset of the next record appended to the partition.") { $0.log.logEndOffset }
        family("runnel_partition_high_watermark", "Offset up to which consumers read (durable, and in cluster mode on every ISR member).") {
            $0.log.highWatermark
        }
        family("runnel_partition_log_start_offset", "First offset still in the log (after retention and DeleteRecords).") {
            $0.log.logStartOffset
        }
        family("runnel_partition_last_stable_offset", "Offset up to which read_committed consumers read.") { $0.log.lastStableOffset }
        family("runnel_partition_size_bytes", "Bytes of the partition's segment files.") { $0.log.sizeBytes }
        family("runnel_partition_segments", "Segments of the partition's log.") { Int64($0.log.segments) }
        family("runnel_partition_remote_size_bytes",
               "Bytes of the partition's segments in the remote tier (remote.log.dir), as log data before compression at rest.") {
            $0.log.remoteSizeBytes
        }
        family("runnel_partition_remote_segments", "Segments of the partition in the remote tier (remote.log.dir).") {
            Int64($0.log.remoteSegments)
        }
        guard clusterMode else { return }
        family("runnel_partition_leader", "1 when this broker leads the partition.") { $0.isLeader ? 1 : 0 }
        family("runnel_partition_replicas", "Replicas assigned to the partition.") { Int64($0.replicas) }
        family("runnel_partition_isr_size", "In-sync replicas of the partition.") { Int64($0.isr) }
        family("runnel_partition_under_replicated", "1 when this broker leads the partition and its ISR is smaller than its replica list.") {
            $0.isLeader && $0.isr < $0.replicas ? 1 : 0
        }
        family("runnel_partition_offline", "1 when the partition has no leader.") { $0.hasLeader ? 0 : 1 }
    }

    private static func writeGroups(_ groups: [GroupMetricsSnapshot], readings: [PartitionReading],
                             to writer: inout PrometheusTextWriter) {
        writer.family("runnel_group_members", type: "gauge", help: "Members of the consumer group.")
        for group in groups { writer.sample("runnel_group_members", ["group": group.groupId], Int64(group.members)) }
        writer.family("runnel_group_state", type: "gauge",
                      help: "1 for the group's current state (Empty, PreparingRebalance, CompletingRebalance, Stable).")
        for group in groups { writer.sample("runnel_group_state", ["group": group.groupId, "state": group.state.rawValue], 1) }
        var highWatermarks: [TopicPartition: Int64] = [:]
        highWatermarks.reserveCapacity(readings.count)
        for reading in readings {
            highWatermarks[TopicPartition(topic: reading.topic, partition: reading.index)] = reading.log.highWatermark
        }
        writer.family("runnel_group_lag", type: "gauge",
                      help: "Records between the group's committed offset and the partition's high watermark (partitions hosted here).")
        for group in groups {
            for (partition, offset) in group.committed {
                guard let end = highWatermarks[partition] else { continue }
                writer.sample("runnel_group_lag", ["group": group.groupId, "topic": partition.topic,
                                                   "partition": String(partition.partition)], max(0, end - offset))
            }
        }
    }

    private static func writeCoordinators(groups: [GroupMetricsSnapshot], transactions: [TransactionState: Int],
                                   to writer: inout PrometheusTextWriter) {
        writer.family("runnel_group_coordinator_groups", type: "gauge", help: "Consumer groups this broker coordinates, by state.")
        for state in ClassicGroupState.allCases where state != .dead {
            writer.sample("runnel_group_coordinator_groups", ["state": state.rawValue],
                          Int64(groups.count { $0.state == state }))
        }
        writer.family("runnel_transaction_coordinator_transactional_ids", type: "gauge",
                      help: "Transactional ids this broker coordinates, by transaction state.")
        for state in TransactionState.allCases where state != .dead {
            writer.sample("runnel_transaction_coordinator_transactional_ids", ["state": state.name],
                          Int64(transactions[state] ?? 0))
        }
    }
}
