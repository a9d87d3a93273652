// GroupRequests+Transactions: TxnOffsetCommit (v0-5) at the request level — partition checks, the
// transaction verification, the coordinator's transactional commit, and the per-version error rules.
import KafkaProtocol
import NIOCore

extension GroupRequests {
    /// Answers TxnOffsetCommit (v0-5; v2+ leader epochs, v3+ generation, member and instance ids, v4+
    /// TRANSACTION_ABORTABLE). Unknown topics and partitions answer UNKNOWN_TOPIC_OR_PARTITION; the others
    /// are committed, pending until the transaction's marker, once the transaction verifier (if set) accepts
    /// the transaction.
    public func txnOffsetCommit(_ request: TxnOffsetCommitRequest, version: Int16) async -> TxnOffsetCommitResponse {
        var entries: [OffsetCommitEntry] = []
        // Per topic and partition: the index of its entry, or the error found before committing.
        var plan: [[(index: Int?, error: ErrorCode)]] = []
        for topic in request.topics {
            plan.append(topic.partitions.map { partition in
                guard catalog.partitionExists(topic: topic.name, partition: partition.partitionIndex) else {
                    return (nil, .unknownTopicOrPartition)
                }
                entries.append(OffsetCommitEntry(
                    partition: TopicPartition(topic: topic.name, partition: partition.partitionIndex),
                    offset: partition.committedOffset,
                    leaderEpoch: version >= 2 ? partition.committedLeaderEpoch : -1,
                    metadata: partition.committedMetadata))
                return (entries.count - 1, .none)
            })
        }
        let results = entries.isEmpty ? [] : await commit(entries, of: request, version: version)
        var response = TxnOffsetCommitResponse()
        response.topics = zip(request.topics, plan).map { topic, partitions in
            var entry = TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic()
            entry.name = topic.name
            entry.partitions = zip(topic.partitions, partitions).map { partition, outcome in
                var answer = TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition()
                answer.partitionIndex = partition.partitionIndex
                let error = outcome.index.map { results.indices.contains($0) ? results[$0] : .unknownServerError }
                var code = error ?? outcome.error
                // Producers before 2.0 (TxnOffsetCommit v0-1) may crash on the loading error (KAFKA-7296).
                if version < 2 && code == .coordinatorLoadInProgress { code = .coordinatorNotAvailable }
                answer.errorCode = code.rawValue
                return answer
            }
            return entry
        }
        return response
    }

    /// Verifies the transaction, then commits the entries; one error per entry.
    private func commit(_ entries: [OffsetCommitEntry], of request: TxnOffsetCommitRequest,
                        version: Int16) async -> [ErrorCode] {
        func all(_ error: ErrorCode) -> [ErrorCode] { Array(repeating: error, count: entries.count) }
        // Kafka's order: the group id, then the transaction's verification, then the coordinator.
        if request.groupId.isEmpty { return all(.invalidGroupId) }
        // A transactional batch needs a producer id and epoch; Kafka's verification refuses such a producer.
        if request.producerId < 0 { return all(.invalidProducerIdMapping) }
        if request.producerEpoch < 0 { return all(.invalidProducerEpoch) }
        if let verifier = transactionVerifier {
            let verdict = await verifier.verifyOffsetCommit(
                transactionalId: request.transactionalId, producerId: request.producerId,
                producerEpoch: request.producerEpoch, groupId: request.groupId, addPartition: version >= 5)
            if verdict != .none { return all(Self.verificationError(verdict, version: version)) }
        }
        let hasMember = version >= 3
        return await coordinator.commitTransactionalOffsets(
            groupId: request.groupId, producerId: request.producerId, producerEpoch: request.producerEpoch,
            generationId: hasMember ? request.generationId : -1, memberId: hasMember ? request.memberId : "",
            groupInstanceId: hasMember ? request.groupInstanceId : nil, offsets: entries)
    }

    /// Kafka's translation of a failed verification for the client (AddPartitionsToTxnManager and the
    /// coordinator runtime): PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH, which producers expect
    /// here; TRANSACTION_ABORTABLE only from v4 (INVALID_TXN_STATE before); a verification that could not
    /// reach the transaction coordinator (NETWORK_EXCEPTION) as the retriable COORDINATOR_LOAD_IN_PROGRESS.
    static func verificationError(_ error: ErrorCode, version: Int16) -> ErrorCode {
        switch error {
        case .producerFenced: .invalidProducerEpoch
        case .transactionAbortable where version < 4: .invalidTxnState
        case .networkException: .coordinatorLoadInProgress
        default: error
        }
    }
}
