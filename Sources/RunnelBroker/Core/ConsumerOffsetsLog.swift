// The group coordinator's persistence over the real `__consumer_offsets` partitions: records become
// uncompressed batches (coalesced per partition by CoordinatorAppendBatcher) appended durably through
// `Partition.append` with origin .coordinator, like every partition's appends; loading reads a
// partition from its log start offset to its end.
import KafkaProtocol
import KafkaRecords
import NIOCore
import RunnelCluster
import RunnelGroups
import RunnelStorage

/// `GroupLogStore` over this broker's `__consumer_offsets` partition logs.
struct ConsumerOffsetsLog: GroupLogStore {
    static let topic = InternalTopics.consumerOffsets
    /// Most bytes coalesced into one batch (at most 512 KiB, and never more than the partition's
    /// `max.message.bytes` less the batch header), so coalescing never makes a batch the log refuses.
    static let maxCoalescedBatchBytes = 512 * 1024
    let replicas: ReplicaManager
    private let batcher: CoordinatorAppendBatcher

    init(replicas: ReplicaManager) {
        self.replicas = replicas
        self.batcher = CoordinatorAppendBatcher(
            maxBatchBytes: { index in
                let limit = replicas.partition(topic: Self.topic, index: index)?.log.config.maxMessageBytes
                return min(Self.maxCoalescedBatchBytes, (limit ?? Self.maxCoalescedBatchBytes) - 128)
            },
            write: { index, records, producer, done in
                Self.write(records, producer: producer, to: index, replicas: replicas, done: done)
            })
    }

    /// Queues the records on the partition's append lane synchronously, on the caller's executor (so in
    /// the coordinator's order), then waits until the batch that carries them is durable: fdatasynced
    /// (`flush.messages=1`), group-committed by the I/O engine with every other append of its round.
    /// With a `producer` (TxnOffsetCommit), the batch is transactional: that producer id and epoch, never
    /// coalesced with other producers' or plain records.
    nonisolated(nonsending) func append(partition index: Int32, records: [GroupLogRecord],
                                        producer: GroupLogProducer?) async throws(GroupLogStoreError) {
        guard replicas.partition(topic: Self.topic, index: index) != nil else {
            throw GroupLogStoreError(.notCoordinator, "\(Self.topic)-\(index) is not hosted here")
        }
        let result: Result<Void, GroupLogStoreError> = await withCheckedContinuation { continuation in
            batcher.submit(partition: index, records: records, producer: producer) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    /// One batch to the partition log (transactional for a `producer`); `done` runs once it is durable or
    /// has failed.
    private static func write(_ records: [GroupLogRecord], producer: GroupLogProducer?, to index: Int32,
                              replicas: ReplicaManager,
                              done: @escaping CoordinatorAppendBatcher.Completion) {
        guard let partition = replicas.partition(topic: topic, index: index) else {
            done(.failure(GroupLogStoreError(.notCoordinator, "\(topic)-\(index) is not hosted here")))
            return
        }
        let batch: ByteBuffer
        do throws(RecordBatchError) {
            batch = try GroupLogBatches.batch(records, timestampMs: Partition.nowMs(), producer: producer)
        } catch {
            done(.failure(GroupLogStoreError(.unknownServerError, "could not build a coordinator batch: \(error)")))
            return
        }
        // The same path as every partition's appends: validated once by the partition, high watermark
        // moved by the log, parked fetches woken by its append listener.
        partition.append(records: batch, origin: .coordinator) { result in
            switch result {
            case .success:
                done(.success(()))
            case .failure(let error) where error.errorCode == .messageTooLarge || error.errorCode == .recordListTooLarge:
                // No retry can fix a batch over the log's limit: Kafka answers UNKNOWN_SERVER_ERROR.
                done(.failure(GroupLogStoreError(.unknownServerError, "\(topic)-\(index): \(error.message ?? "batch too large")")))
            case .failure(let error) where error.errorCode == .invalidTxnState || error.errorCode == .invalidProducerEpoch:
                // A transactional offset commit whose transaction ended (a marker) after it was verified.
                done(.failure(GroupLogStoreError(error.errorCode, "\(topic)-\(index): \(error.message ?? "transaction ended")")))
            case .failure(let error):
                // Kafka answers a failed coordinator write with COORDINATOR_NOT_AVAILABLE so clients retry.
                done(.failure(GroupLogStoreError(.coordinatorNotAvailable, "\(topic)-\(index): \(error)")))
            }
        }
    }

    /// Every entry from the log start offset to the log end, in log order: keyed data records (with their
    /// producer id when the batch is transactional) and the COMMIT/ABORT markers of control batches.
    func load(partition index: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] {
        guard let partition = replicas.partition(topic: Self.topic, index: index) else { return [] }
        var loaded: [GroupLogEntry] = []
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
                    loaded.append(contentsOf: try GroupLogBatches.entries(of: batch, fromOffset: offset))
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
