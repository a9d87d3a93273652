// TransactionRequests: the one translation between the transaction APIs' wire messages and the
// coordinator — version rules (PRODUCER_FENCED for old clients, AddPartitionsToTxn's two request
// shapes), per-partition errors, topic checks. The broker's router runs these on the connection's lane.
import KafkaProtocol

/// Which partitions exist (AddPartitionsToTxn answers UNKNOWN_TOPIC_OR_PARTITION for others).
public protocol TransactionTopicCatalog: Sendable {
    func partitionExists(_ partition: TopicPartition) -> Bool
}

/// Wire-level transaction requests over a `TransactionCoordinator`.
public struct TransactionRequests: Sendable {
    public let coordinator: TransactionCoordinator
    let catalog: any TransactionTopicCatalog

    public init(coordinator: TransactionCoordinator, catalog: any TransactionTopicCatalog) {
        self.coordinator = coordinator
        self.catalog = catalog
    }

    /// Clients older than KIP-588 do not know PRODUCER_FENCED: they get INVALID_PRODUCER_EPOCH.
    static func fenced(_ code: ErrorCode, newCodeFrom version: Int16, _ requestVersion: Int16) -> ErrorCode {
        code == .producerFenced && requestVersion < version ? .invalidProducerEpoch : code
    }

    // MARK: InitProducerId

    public func initProducerId(_ request: InitProducerIdRequest, version: Int16) async -> InitProducerIdResponse {
        var response = InitProducerIdResponse()
        response.producerId = -1
        response.producerEpoch = -1
        if version >= 6, request.enable2Pc {
            // KIP-939 two-phase commit is not offered (transaction.two.phase.commit.enable=false, Kafka's default).
            response.errorCode = ErrorCode.transactionalIdAuthorizationFailed.rawValue
            return response
        }
        // v3+: a producer recovering from an error names its current id and epoch (KIP-360).
        var expected: ProducerIdAndEpoch?
        if version >= 3, request.producerId != -1 || request.producerEpoch != -1 {
            expected = ProducerIdAndEpoch(producerId: request.producerId, epoch: request.producerEpoch)
        }
        let result = await coordinator.initProducerId(transactionalId: request.transactionalId,
                                                      timeoutMs: request.transactionTimeoutMs, expected: expected)
        switch result {
        case .success(let assigned):
            response.errorCode = ErrorCode.none.rawValue
            response.producerId = assigned.producerId
            response.producerEpoch = assigned.epoch
        case .failure(let error):
            response.errorCode = Self.fenced(error.code, newCodeFrom: 4, version).rawValue
        }
        return response
    }

    // MARK: AddPartitionsToTxn

    /// v0–3 (clients): one transaction. v4–5 (brokers, KIP-890): a batch of transactions, each either
    /// added or only verified (`verifyOnly`).
    public func addPartitionsToTxn(_ request: AddPartitionsToTxnRequest, version: Int16) async -> AddPartitionsToTxnResponse {
        var response = AddPartitionsToTxnResponse()
        if version < 4 {
            let results = await addPartitions(transactionalId: request.v3AndBelowTransactionalId,
                                              producerId: request.v3AndBelowProducerId,
                                              producerEpoch: request.v3AndBelowProducerEpoch,
                                              topics: request.v3AndBelowTopics, verifyOnly: false, version: version)
            response.resultsByTopicV3AndBelow = results
            return response
        }
        var seen = Set<String>()
        for transaction in request.transactions {
            var result = AddPartitionsToTxnResponse.AddPartitionsToTxnResult()
            result.transactionalId = transaction.transactionalId
            if !seen.insert(transaction.transactionalId).inserted {
                // Kafka refuses a batch naming one transactional id twice.
                response.errorCode = ErrorCode.invalidRequest.rawValue
                response.resultsByTransaction = []
                return response
            }
            result.topicResults = await addPartitions(transactionalId: transaction.transactionalId,
                                                      producerId: transaction.producerId,
                                                      producerEpoch: transaction.producerEpoch,
                                                      topics: transaction.topics, verifyOnly: transaction.verifyOnly,
                                                      version: version)
            response.resultsByTransaction.append(result)
        }
        return response
    }

    private func addPartitions(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                               topics: [AddPartitionsToTxnRequest.AddPartitionsToTxnTopic], verifyOnly: Bool,
                               version: Int16) async -> [AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult] {
        let requested = topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.name, partition: $0) } }
        var errors: [TopicPartition: ErrorCode] = [:]
        let unknown = requested.filter { !catalog.partitionExists($0) }
        if verifyOnly {
            errors = await coordinator.verify(transactionalId: transactionalId, producerId: producerId,
                                              producerEpoch: producerEpoch, partitions: requested)
        } else if !unknown.isEmpty {
            // Kafka: unknown partitions fail, the others are not attempted.
            for partition in requested {
                errors[partition] = unknown.contains(partition) ? .unknownTopicOrPartition : .operationNotAttempted
            }
        } else {
            // v4+ comes from brokers: with verifyOnly false it is a transactions-v2 produce's implicit add.
            let code = await coordinator.addPartitions(transactionalId: transactionalId, producerId: producerId,
                                                       producerEpoch: producerEpoch, partitions: Set(requested),
                                                       clientTransactionVersion: version >= 4 ? 2 : 0)
            for partition in requested { errors[partition] = Self.fenced(code, newCodeFrom: 2, version) }
        }
        return topics.map { topic in
            var result = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult()
            result.name = topic.name
            result.resultsByPartition = topic.partitions.map { index in
                var partition = AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult()
                partition.partitionIndex = index
                partition.partitionErrorCode = (errors[TopicPartition(topic: topic.name, partition: index)] ?? .none).rawValue
                return partition
            }
            return result
        }
    }

    // MARK: AddOffsetsToTxn, EndTxn

    public func addOffsetsToTxn(_ request: AddOffsetsToTxnRequest, version: Int16) async -> AddOffsetsToTxnResponse {
        var response = AddOffsetsToTxnResponse()
        let code: ErrorCode = request.groupId.isEmpty ? .invalidGroupId
            : await coordinator.addOffsets(transactionalId: request.transactionalId, producerId: request.producerId,
                                           producerEpoch: request.producerEpoch, groupId: request.groupId)
        response.errorCode = Self.fenced(code, newCodeFrom: 2, version).rawValue
        return response
    }

    public func endTxn(_ request: EndTxnRequest, version: Int16) async -> EndTxnResponse {
        var response = EndTxnResponse()
        let result = await coordinator.endTransaction(transactionalId: request.transactionalId,
                                                      producerId: request.producerId,
                                                      producerEpoch: request.producerEpoch,
                                                      result: request.committed ? TransactionResult.commit : .abort,
                                                      clientTransactionVersion: version >= 5 ? 2 : 0)
        switch result {
        case .success(let current):
            response.errorCode = ErrorCode.none.rawValue
            response.producerId = current.producerId
            response.producerEpoch = current.epoch
        case .failure(let error):
            response.errorCode = Self.fenced(error.code, newCodeFrom: 2, version).rawValue
            response.producerId = -1
            response.producerEpoch = -1
        }
        return response
    }

    // MARK: Admin

    public func listTransactions(_ request: ListTransactionsRequest, version: Int16) async -> ListTransactionsResponse {
        var response = ListTransactionsResponse()
        let result = await coordinator.list(states: request.stateFilters, producerIds: request.producerIdFilters,
                                            durationMs: version >= 1 ? request.durationFilter : -1,
                                            pattern: version >= 2 ? request.transactionalIdPattern : nil)
        switch result {
        case .success(let (listings, unknown)):
            response.errorCode = ErrorCode.none.rawValue
            response.unknownStateFilters = unknown
            response.transactionStates = listings.map { listing in
                var state = ListTransactionsResponse.TransactionState()
                state.transactionalId = listing.transactionalId
                state.producerId = listing.producerId
                state.transactionState = listing.state.name
                return state
            }
        case .failure(let error):
            response.errorCode = error.code.rawValue
        }
        return response
    }

    public func describeTransactions(_ request: DescribeTransactionsRequest, version: Int16) async -> DescribeTransactionsResponse {
        var response = DescribeTransactionsResponse()
        for id in request.transactionalIds {
            var state = DescribeTransactionsResponse.TransactionState()
            state.transactionalId = id
            switch await coordinator.describe(id) {
            case .success(let metadata):
                state.errorCode = ErrorCode.none.rawValue
                state.transactionState = metadata.state.name
                state.transactionTimeoutMs = metadata.timeoutMs
                state.transactionStartTimeMs = metadata.startTimestampMs
                state.producerId = metadata.producerId
                state.producerEpoch = metadata.producerEpoch
                let byTopic = Dictionary(grouping: metadata.partitions, by: \.topic)
                state.topics = byTopic.keys.sorted().map { topic in
                    var data = DescribeTransactionsResponse.TopicData()
                    data.topic = topic
                    data.partitions = (byTopic[topic] ?? []).map(\.partition).sorted()
                    return data
                }
            case .failure(let error):
                state.errorCode = error.code.rawValue
            }
            response.transactionStates.append(state)
        }
        return response
    }
}
