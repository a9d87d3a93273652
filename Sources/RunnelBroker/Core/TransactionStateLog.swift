// The transaction coordinator's ports over this broker: `__transaction_state` as its log store, and the
// in-process marker path (the WriteTxnMarkers API's work, without the network hop on one node).
import KafkaProtocol
import KafkaRecords
import NIOCore
import RunnelCluster
import RunnelGroups
import RunnelStorage
import RunnelTransactions
import Synchronization

/// `TransactionLogStore` over this broker's `__transaction_state` partition logs: one uncompressed batch
/// per append, handed to `Partition.append(origin: .coordinator)` before `append` returns, so appends are
/// in the log in call order (durable on completion, group-committed with every other append of its I/O
/// round; an I/O round completes its appends in log order).
struct TransactionStateLog: TransactionLogStore {
    static let topic = InternalTopics.transactionState
    let replicas: ReplicaManager

    func append(partition index: Int32, records: [TransactionLogRecord],
                completion: @escaping @Sendable (Result<Void, TransactionLogStoreError>) -> Void) {
        guard let partition = replicas.partition(topic: Self.topic, index: index) else {
            completion(.failure(TransactionLogStoreError(.notCoordinator, "\(Self.topic)-\(index) is not hosted here")))
            return
        }
        var builder = RecordBatchBuilder(initialCapacity: records.reduce(128) {
            $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + 16
        })
        let now = Partition.nowMs()
        for record in records { builder.append(key: record.key, value: record.value, timestamp: now) }
        let batch: ByteBuffer
        do throws(RecordBatchError) {
            batch = try builder.build()
        } catch {
            completion(.failure(TransactionLogStoreError(.unknownServerError, "could not build a transaction log batch: \(error)")))
            return
        }
        partition.append(records: batch, origin: .coordinator) { result in
            switch result {
            case .success:
                completion(.success(()))
            case .failure(let error) where error.errorCode == .messageTooLarge || error.errorCode == .recordListTooLarge:
                completion(.failure(TransactionLogStoreError(
                    .unknownServerError, "\(Self.topic)-\(index): \(error.message ?? "batch too large")")))
            case .failure(let error):
                // Kafka answers a failed transaction log write with COORDINATOR_NOT_AVAILABLE so clients retry.
                completion(.failure(TransactionLogStoreError(.coordinatorNotAvailable, "\(Self.topic)-\(index): \(error)")))
            }
        }
    }

    func load(partition index: Int32) async throws(TransactionLogStoreError) -> [TransactionLogRecord] {
        guard let partition = replicas.partition(topic: Self.topic, index: index) else { return [] }
        var loaded: [TransactionLogRecord] = []
        do {
            try partition.forEachBatch { batch in
                guard !batch.isControl else { return }
                for record in try batch.records() {
                    guard let key = record.key else { continue }
                    loaded.append(TransactionLogRecord(key: key, value: record.value))
                }
            }
        } catch {
            throw TransactionLogStoreError(.coordinatorLoadInProgress, "reading \(Self.topic)-\(index): \(error)")
        }
        return loaded
    }
}

/// Writes transaction markers into this broker's partitions: one control batch per partition through
/// `Partition.append(origin: .coordinator)`. A marker in `__consumer_offsets` completes the group
/// coordinator's pending transactional offsets once it is durable.
struct PartitionMarkerWriter: TransactionMarkerWriter {
    let replicas: ReplicaManager
    /// Called after a marker is durable in a `__consumer_offsets` partition.
    let offsetsMarkerWritten: @Sendable (_ partition: Int32, _ producerId: Int64, _ producerEpoch: Int16,
                                         _ commit: Bool) async -> Void

    /// Hands every marker to its partition in one synchronous pass (so they share an I/O round), then
    /// waits for all of them.
    func write(_ markers: TransactionMarkers) async -> [TopicPartition: ErrorCode] {
        let commit = markers.result == .commit
        let marker = EndTransactionMarker(type: commit ? .commit : .abort, coordinatorEpoch: markers.coordinatorEpoch)
        let batch = RecordBatchBuilder.endTransactionMarker(marker, producerId: markers.producerId,
                                                            producerEpoch: markers.producerEpoch,
                                                            timestamp: Partition.nowMs())
        let results: [TopicPartition: ErrorCode] = await withCheckedContinuation { continuation in
            let collector = MarkerResults(expected: markers.partitions.count, continuation: continuation)
            for target in markers.partitions {
                guard let partition = replicas.partition(topic: target.topic, index: target.partition) else {
                    collector.record(target, .unknownTopicOrPartition)
                    continue
                }
                partition.append(records: batch, origin: .coordinator) { result in
                    switch result {
                    case .success: collector.record(target, .none)
                    case .failure(let error): collector.record(target, error.errorCode)
                    }
                }
            }
        }
        for (target, code) in results where code == .none && target.topic == InternalTopics.consumerOffsets {
            await offsetsMarkerWritten(target.partition, markers.producerId, markers.producerEpoch, commit)
        }
        return results
    }

    /// Collects one result per partition and resumes the writer once all are in.
    private final class MarkerResults: Sendable {
        private let state: Mutex<(results: [TopicPartition: ErrorCode],
                                  continuation: CheckedContinuation<[TopicPartition: ErrorCode], Never>?)>
        private let expected: Int

        init(expected: Int, continuation: CheckedContinuation<[TopicPartition: ErrorCode], Never>) {
            self.expected = expected
            state = Mutex(([:], expected == 0 ? nil : continuation))
            if expected == 0 { continuation.resume(returning: [:]) }
        }

        func record(_ target: TopicPartition, _ code: ErrorCode) {
            let finished: (CheckedContinuation<[TopicPartition: ErrorCode], Never>, [TopicPartition: ErrorCode])? =
                state.withLock { state in
                    state.results[target] = code
                    guard state.results.count == expected, let continuation = state.continuation else { return nil }
                    state.continuation = nil
                    return (continuation, state.results)
                }
            if let (continuation, results) = finished { continuation.resume(returning: results) }
        }
    }
}

/// The group request layer's check before a TxnOffsetCommit is written (KIP-890 part 1), with the same
/// verification guard as a transactional produce: a token taken in the group's `__consumer_offsets`
/// partition before asking the coordinator, cleared by any marker of the producer, so an offset commit
/// verified just before its transaction ended is refused by the partition instead of staying pending.
struct BrokerTransactionVerifier: RunnelGroups.TransactionVerifier {
    let coordinator: TransactionCoordinator
    let replicas: ReplicaManager
    /// Cluster mode: the coordinator of the transactional id may be another broker.
    var remote: RemoteTransactionVerifier? = nil

    func verifyOffsetCommit(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                            groupId: String, addPartition: Bool) async -> ErrorCode {
        let target = coordinator.offsetsPartition(for: groupId)
        guard let partition = replicas.partition(topic: target.topic, index: target.partition) else { return .notCoordinator }
        return await partition.guardTransactionalWrite(transactionalId: transactionalId, producerId: producerId,
                                                       producerEpoch: producerEpoch, target: target,
                                                       implicitAdd: addPartition, coordinator: coordinator, remote: remote)
    }
}

extension Partition {
    /// The transaction guard of a transactional write about to open a transaction in this partition
    /// (`target`), asking the coordinator — this broker's, or through `remote` another broker's — to
    /// verify the partition is in the transaction (KIP-890 part 1) or, with `implicitAdd`, to add it
    /// (transactions v2: a produce v12+ or TxnOffsetCommit v5 adds its partition itself). A token taken
    /// before the question is confirmed after it unless a marker of the producer voided it meanwhile.
    /// An implicit add waits for the producer's previous transaction to complete, whose marker in this
    /// partition may be what voided the token: then the question is asked once more (the partition is in
    /// the transaction by then, so the second answer is immediate).
    func guardTransactionalWrite(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                                 target: TopicPartition, implicitAdd: Bool, coordinator: TransactionCoordinator,
                                 remote: RemoteTransactionVerifier?) async -> ErrorCode {
        for _ in 0..<2 {
            guard let token = log.beginTransactionVerification(producerId: producerId, epoch: producerEpoch) else {
                return .none
            }
            let code: ErrorCode
            if let remote, let node = remote.remoteCoordinator(for: transactionalId) {
                code = await remote.verify(at: node, transactionalId: transactionalId, producerId: producerId,
                                           producerEpoch: producerEpoch, partition: target, add: implicitAdd)
            } else if implicitAdd {
                code = await coordinator.addPartitions(transactionalId: transactionalId, producerId: producerId,
                                                       producerEpoch: producerEpoch, partitions: [target],
                                                       clientTransactionVersion: 2)
            } else {
                code = coordinator.verifyNow(transactionalId: transactionalId, producerId: producerId,
                                             producerEpoch: producerEpoch, partition: target)
            }
            guard code == .none else { return code }
            if log.completeTransactionVerification(producerId: producerId, token: token) { return .none }
            guard implicitAdd else { return .invalidTxnState }
        }
        return .invalidTxnState
    }

    /// KIP-890 part 1 for a transactional write about to open a transaction here (a client's produce or
    /// the group coordinator's TxnOffsetCommit): a token is taken in the partition, the coordinator's
    /// persisted state is checked, and the token is confirmed unless a marker of the producer voided it
    /// meanwhile. Returns `.none` (also when no verification is needed: the transaction is already open
    /// here), the coordinator's error, or INVALID_TXN_STATE when a marker intervened.
    func verifyTransaction(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                           coordinator: TransactionCoordinator) -> ErrorCode {
        guard let token = log.beginTransactionVerification(producerId: producerId, epoch: producerEpoch) else { return .none }
        let code = coordinator.verifyNow(transactionalId: transactionalId, producerId: producerId,
                                         producerEpoch: producerEpoch,
                                         partition: TopicPartition(topic: topic, partition: index))
        guard code == .none else { return code }
        return log.completeTransactionVerification(producerId: producerId, token: token) ? .none : .invalidTxnState
    }
}

/// Partition lookups for AddPartitionsToTxn, over the metadata store.
struct MetadataTransactionTopicCatalog: TransactionTopicCatalog {
    let metadata: any MetadataStore

    func partitionExists(_ partition: TopicPartition) -> Bool {
        guard let topic = metadata.topic(named: partition.topic) else { return false }
        return partition.partition >= 0 && partition.partition < topic.partitionCount
    }
}
