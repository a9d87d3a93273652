// Transactions (KIP-98) as kafka-transactions.sh sees them: ListTransactions on every broker,
// DescribeTransactions at a transactional id's coordinator, DescribeProducers at a partition's leader,
// and aborting a hanging transaction with a WriteTxnMarkers ABORT sent to the partition's leader.
import KafkaProtocol

/// A transaction as ListTransactions reports it.
public struct TransactionListing: Sendable, Codable, Equatable {
    public var transactionalId: String
    /// The broker that coordinates it (the one that listed it).
    public var coordinatorId: Int32
    public var producerId: Int64
    /// Kafka's state name: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort,
    /// Dead, PrepareEpochFence.
    public var state: String
}

/// A transactional id's state at its coordinator (DescribeTransactions).
public struct TransactionDescription: Sendable, Codable, Equatable {
    public var transactionalId: String
    public var coordinatorId: Int32
    public var state: String
    public var producerId: Int64
    public var producerEpoch: Int16
    public var transactionTimeoutMs: Int32
    /// When the current transaction started (ms since the epoch); nil when none is open.
    public var transactionStartTimeMs: Int64?
    /// The partitions the current transaction wrote to (or added), sorted.
    public var partitions: [TopicPartition]

    enum CodingKeys: String, CodingKey {
        case transactionalId, coordinatorId, state, producerId, producerEpoch, transactionTimeoutMs
        case transactionStartTimeMs, partitions
    }

    /// JSON with `transactionStartTimeMs: null` when no transaction is open (not an absent key).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(transactionalId, forKey: .transactionalId)
        try container.encode(coordinatorId, forKey: .coordinatorId)
        try container.encode(state, forKey: .state)
        try container.encode(producerId, forKey: .producerId)
        try container.encode(producerEpoch, forKey: .producerEpoch)
        try container.encode(transactionTimeoutMs, forKey: .transactionTimeoutMs)
        try container.encode(transactionStartTimeMs, forKey: .transactionStartTimeMs)
        try container.encode(partitions, forKey: .partitions)
    }
}

/// An active producer of a partition (DescribeProducers).
public struct PartitionProducerState: Sendable, Codable, Equatable {
    public var producerId: Int64
    public var producerEpoch: Int32
    public var lastSequence: Int32
    /// -1 when unknown.
    public var lastTimestamp: Int64
    /// -1 when the producer never wrote a transaction marker here.
    public var coordinatorEpoch: Int32
    /// The first offset of its open transaction in this partition; nil when none is open.
    public var currentTransactionStartOffset: Int64?

    enum CodingKeys: String, CodingKey {
        case producerId, producerEpoch, lastSequence, lastTimestamp, coordinatorEpoch, currentTransactionStartOffset
    }

    /// JSON with `currentTransactionStartOffset: null` when no transaction is open (not an absent key).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(producerId, forKey: .producerId)
        try container.encode(producerEpoch, forKey: .producerEpoch)
        try container.encode(lastSequence, forKey: .lastSequence)
        try container.encode(lastTimestamp, forKey: .lastTimestamp)
        try container.encode(coordinatorEpoch, forKey: .coordinatorEpoch)
        try container.encode(currentTransactionStartOffset, forKey: .currentTransactionStartOffset)
    }
}

/// The transaction to abort in one partition (WriteTxnMarkers ABORT), as kafka-transactions.sh's
/// `AbortTransactionSpec`.
public struct AbortTransactionSpec: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    public var producerId: Int64
    public var producerEpoch: Int16
    public var coordinatorEpoch: Int32

    public init(topic: String, partition: Int32, producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32) {
        self.topic = topic
        self.partition = partition
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.coordinatorEpoch = coordinatorEpoch
    }
}

extension KafkaAdmin {
    /// The transactions every broker coordinates, filtered by state names and producer ids (empty:
    /// no filter) and, when `minimumDurationMs` is set, to those running at least that long. Sorted by
    /// transactional id.
    public func listTransactions(states: [String] = [], producerIds: [Int64] = [],
                                 minimumDurationMs: Int64? = nil) async throws -> [TransactionListing] {
        let metadata = try await client.refreshMetadata(topics: [])
        var listings: [TransactionListing] = []
        for broker in metadata.brokers.values.sorted(by: { $0.nodeId < $1.nodeId }) {
            let connection = try await client.connection(to: broker.address)
            let version = try connection.version(for: .listTransactions)
            var request = ListTransactionsRequest()
            request.stateFilters = states
            request.producerIdFilters = producerIds
            if let minimumDurationMs {
                guard version >= 1 else {
                    throw KafkaClientError.unsupportedApi(address: "\(broker.address)",
                                                          api: "ListTransactions v1 (duration filter)")
                }
                request.durationFilter = minimumDurationMs
            }
            let response = try await connection.send(request, version: version)
            try KafkaClientError.check(response.errorCode, "list transactions on broker \(broker.nodeId)")
            listings += response.transactionStates.map {
                TransactionListing(transactionalId: $0.transactionalId, coordinatorId: broker.nodeId,
                                   producerId: $0.producerId, state: $0.transactionState)
            }
        }
        return listings.sorted { ($0.transactionalId, $0.coordinatorId) < ($1.transactionalId, $1.coordinatorId) }
    }

    /// The state of `transactionalId` at its coordinator; throws TRANSACTIONAL_ID_NOT_FOUND for an
    /// unknown id.
    public func describeTransaction(_ transactionalId: String) async throws -> TransactionDescription {
        let coordinator = try await client.coordinatorConnection(key: transactionalId, keyType: .transaction)
        var request = DescribeTransactionsRequest()
        request.transactionalIds = [transactionalId]
        let response = try await coordinator.connection.send(request)
        guard let state = response.transactionStates.first(where: { $0.transactionalId == transactionalId })
            ?? response.transactionStates.first else {
            throw KafkaClientError.protocolError("DescribeTransactions returned nothing for '\(transactionalId)'")
        }
        try KafkaClientError.check(state.errorCode, "describe transactional id '\(transactionalId)'")
        var partitions: [TopicPartition] = []
        for topic in state.topics {
            partitions += topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) }
        }
        return TransactionDescription(
            transactionalId: transactionalId, coordinatorId: coordinator.nodeId, state: state.transactionState,
            producerId: state.producerId, producerEpoch: state.producerEpoch,
            transactionTimeoutMs: state.transactionTimeoutMs,
            transactionStartTimeMs: state.transactionStartTimeMs >= 0 ? state.transactionStartTimeMs : nil,
            partitions: partitions.sorted())
    }

    /// The active producers of `topic`-`partition` at its leader, sorted by producer id.
    public func describeProducers(topic: String, partition: Int32) async throws -> [PartitionProducerState] {
        let leader = try await leaderConnection(topic: topic, partition: partition)
        var request = DescribeProducersRequest()
        var requestTopic = DescribeProducersRequest.TopicRequest()
        requestTopic.name = topic
        requestTopic.partitionIndexes = [partition]
        request.topics = [requestTopic]
        let response = try await leader.send(request)
        guard let result = response.topics.first(where: { $0.name == topic })?.partitions
            .first(where: { $0.partitionIndex == partition }) else {
            throw KafkaClientError.protocolError("DescribeProducers returned nothing for \(topic)-\(partition)")
        }
        if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue { throw KafkaClientError.unknownTopic(topic) }
        try KafkaClientError.check(result.errorCode, "describe producers of \(topic)-\(partition)",
                                   message: result.errorMessage)
        return result.activeProducers.map {
            PartitionProducerState(producerId: $0.producerId, producerEpoch: $0.producerEpoch,
                                   lastSequence: $0.lastSequence, lastTimestamp: $0.lastTimestamp,
                                   coordinatorEpoch: $0.coordinatorEpoch,
                                   currentTransactionStartOffset: $0.currentTxnStartOffset >= 0 ? $0.currentTxnStartOffset : nil)
        }.sorted { $0.producerId < $1.producerId }
    }

    /// The spec that aborts the transaction open in `topic`-`partition` since `startOffset`, found
    /// with DescribeProducers (kafka-transactions.sh abort --start-offset). Throws INVALID_TXN_STATE
    /// when no producer has a transaction starting there.
    public func abortSpec(topic: String, partition: Int32, startOffset: Int64) async throws -> AbortTransactionSpec {
        let producers = try await describeProducers(topic: topic, partition: partition)
        guard let producer = producers.first(where: { $0.currentTransactionStartOffset == startOffset }) else {
            throw KafkaClientError.broker(
                code: .invalidTxnState, context: "abort transaction in \(topic)-\(partition)",
                message: "no open transaction starts at offset \(startOffset)")
        }
        guard let epoch = Int16(exactly: producer.producerEpoch) else {
            throw KafkaClientError.protocolError("producer epoch \(producer.producerEpoch) out of range")
        }
        return AbortTransactionSpec(topic: topic, partition: partition, producerId: producer.producerId,
                                    producerEpoch: epoch, coordinatorEpoch: Swift.max(0, producer.coordinatorEpoch))
    }

    /// Writes an ABORT marker for `spec`'s producer into its partition (WriteTxnMarkers to the
    /// partition's leader), ending a hanging transaction there.
    public func abortTransaction(_ spec: AbortTransactionSpec) async throws {
        let leader = try await leaderConnection(topic: spec.topic, partition: spec.partition)
        var marker = WriteTxnMarkersRequest.WritableTxnMarker()
        marker.producerId = spec.producerId
        marker.producerEpoch = spec.producerEpoch
        marker.transactionResult = false
        marker.coordinatorEpoch = spec.coordinatorEpoch
        var markerTopic = WriteTxnMarkersRequest.WritableTxnMarkerTopic()
        markerTopic.name = spec.topic
        markerTopic.partitionIndexes = [spec.partition]
        marker.topics = [markerTopic]
        var request = WriteTxnMarkersRequest()
        request.markers = [marker]
        // Version 1, as Kafka's admin client sends it (v2 adds the transaction version of a
        // coordinator-written marker).
        guard let version = leader.apiVersions.negotiatedVersion(for: .writeTxnMarkers, atMost: 1) else {
            throw KafkaClientError.unsupportedApi(address: "leader of \(spec.topic)-\(spec.partition)", api: "WriteTxnMarkers")
        }
        let response = try await leader.send(request, version: version)
        let context = "abort transaction of producer \(spec.producerId) in \(spec.topic)-\(spec.partition)"
        guard let result = response.markers.first(where: { $0.producerId == spec.producerId })?.topics
            .first(where: { $0.name == spec.topic })?.partitions.first(where: { $0.partitionIndex == spec.partition }) else {
            throw KafkaClientError.protocolError("WriteTxnMarkers returned no result for \(spec.topic)-\(spec.partition)")
        }
        try KafkaClientError.check(result.errorCode, context)
    }

    /// A connection to the leader of `topic`-`partition`.
    private func leaderConnection(topic: String, partition: Int32) async throws -> BrokerConnection {
        let metadata = try await client.topicMetadata(topic, forceRefresh: true)
        guard let entry = metadata.partitions.first(where: { $0.partition == partition }) else {
            throw KafkaClientError.broker(code: .unknownTopicOrPartition, context: "\(topic)-\(partition)",
                                          message: "topic '\(topic)' has \(metadata.partitionCount) partitions")
        }
        guard entry.leader >= 0 else { throw KafkaClientError.partitionUnavailable(topic: topic, partition: partition) }
        return try await client.connection(toBroker: entry.leader)
    }
}
