// The group coordinator's persistence over the real `__consumer_offsets` partitions: records become one
// uncompressed batch appended durably; loading reads a partition from its log start offset to its end.
import KafkaProtocol
import KafkaRecords
import NIOCore
import RunnelCluster
import RunnelStorage

/// `GroupLogStore` over this broker's `__consumer_offsets` partition logs.
struct ConsumerOffsetsLog: GroupLogStore {
    static let topic = "__consumer_offsets"
    let replicas: ReplicaManager

    func append(partition index: Int32, records: [GroupLogRecord]) async throws(GroupLogStoreError) {
        guard let partition = replicas.partition(topic: Self.topic, index: index) else {
            throw GroupLogStoreError(.notCoordinator, "\(Self.topic)-\(index) is not hosted here")
        }
        let batch: ByteBuffer
        do throws(RecordBatchError) {
            batch = try GroupLogBatches.batch(records, timestampMs: Partition.nowMs())
        } catch {
            throw GroupLogStoreError(.unknownServerError, "could not build a coordinator batch: \(error)")
        }
        let result: Result<AppendResult, StorageError> = await withCheckedContinuation { continuation in
            partition.log.append(records: batch, leaderEpoch: partition.leaderEpoch, origin: .coordinator) { result in
                continuation.resume(returning: result)
            }
        }
        switch result {
        case .success(let appended):
            partition.advanceHighWatermark(to: appended.lastOffset + 1)
        case .failure(.messageTooLarge(let size, let limit)):
            // No retry can fix a batch over the log's limit: Kafka answers UNKNOWN_SERVER_ERROR.
            throw GroupLogStoreError(.unknownServerError,
                                     "\(Self.topic)-\(index): batch of \(size) bytes exceeds the limit of \(limit) bytes")
        case .failure(let error):
            // Kafka answers a failed coordinator write with COORDINATOR_NOT_AVAILABLE so clients retry.
            throw GroupLogStoreError(.coordinatorNotAvailable, "\(Self.topic)-\(index): \(error)")
        }
    }

    func load(partition index: Int32) async throws(GroupLogStoreError) -> [GroupLogRecord] {
        guard let partition = replicas.partition(topic: Self.topic, index: index) else { return [] }
        var loaded: [GroupLogRecord] = []
        var offset = partition.logStartOffset
        let end = partition.logEndOffset
        while offset < end {
            let bytes: ByteBuffer
            do throws(StorageError) {
                let read = try partition.log.read(from: offset, maxBytes: 4 << 20, isolation: .logEnd, minOneBatch: true)
                guard !read.isEmpty else { break }
                bytes = try read.readBytes()
            } catch {
                throw GroupLogStoreError(.coordinatorLoadInProgress, "reading \(Self.topic)-\(index): \(error)")
            }
            var next = offset
            do throws(RecordBatchError) {
                for batch in try MemoryRecords(bytes).batches() {
                    next = max(next, batch.lastOffset + 1)
                    guard !batch.isControl else { continue }
                    for record in try batch.records() where record.offset >= offset {
                        guard let key = record.key else { continue }
                        loaded.append(GroupLogRecord(key: key, value: record.value))
                    }
                }
            } catch {
                throw GroupLogStoreError(.coordinatorLoadInProgress, "decoding \(Self.topic)-\(index): \(error)")
            }
            guard next > offset else { break }
            offset = next
        }
        return loaded
    }
}

/// Topic lookups for the group request layer, over the metadata store.
struct MetadataGroupTopicCatalog: GroupTopicCatalog {
    let metadata: any MetadataStore

    func topicName(for topicId: KafkaUUID) -> String? { metadata.topic(id: topicId)?.name }
    func topicId(for name: String) -> KafkaUUID? { metadata.topic(named: name)?.topicId }
    func partitionExists(topic: String, partition: Int32) -> Bool {
        guard let found = metadata.topic(named: topic) else { return false }
        return partition >= 0 && partition < found.partitionCount
    }
}
