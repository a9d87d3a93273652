// Requests to a group's coordinator shared by the consumer and the admin: finding the coordinator,
// fetching and committing offsets.
import KafkaProtocol

extension KafkaClient {
    /// A connection to the coordinator of `group` (FindCoordinator, retried while it is loading).
    public func coordinatorConnection(group: String) async throws -> BrokerConnection {
        try await coordinatorConnection(key: group, keyType: .group).connection
    }

    /// A connection to the transaction coordinator of `transactionalId` (FindCoordinator key type 1).
    public func coordinatorConnection(transactionalId: String) async throws -> BrokerConnection {
        try await coordinatorConnection(key: transactionalId, keyType: .transaction).connection
    }

    /// What a FindCoordinator key names.
    public enum CoordinatorKeyType: Int8, Sendable {
        case group = 0
        case transaction = 1

        var noun: String { self == .group ? "group" : "transactional id" }
    }

    /// The coordinator of `key` (its node id and a connection), FindCoordinator retried while the
    /// coordinator is loading or moving.
    public func coordinatorConnection(key: String, keyType: CoordinatorKeyType) async throws
        -> (nodeId: Int32, connection: BrokerConnection) {
        var lastError: (any Error)?
        for attempt in 0..<10 {
            if attempt > 0 { try await Task.sleep(for: configuration.retryBackoff * min(attempt, 5)) }
            let connection = try await anyConnection()
            let version = try connection.version(for: .findCoordinator)
            var request = FindCoordinatorRequest()
            request.keyType = keyType.rawValue
            if version >= 4 { request.coordinatorKeys = [key] } else { request.key = key }
            let response = try await connection.send(request, version: version)
            let code: Int16
            let message: String?
            let node: (id: Int32, host: String, port: Int32)
            if version >= 4 {
                guard let coordinator = response.coordinators.first else {
                    throw KafkaClientError.protocolError("FindCoordinator returned no coordinator for \(keyType.noun) '\(key)'")
                }
                (code, message) = (coordinator.errorCode, coordinator.errorMessage)
                node = (coordinator.nodeId, coordinator.host, coordinator.port)
            } else {
                (code, message) = (response.errorCode, response.errorMessage)
                node = (response.nodeId, response.host, response.port)
            }
            let error = ErrorCode(rawValue: code)
            if error == .none {
                return (node.id, try await self.connection(to: BrokerAddress(host: node.host, port: Int(node.port))))
            }
            lastError = KafkaClientError.broker(code: error, context: "find coordinator of \(keyType.noun) '\(key)'", message: message)
            guard error.isRetriable else { break }
        }
        throw lastError ?? KafkaClientError.protocolError("no coordinator for \(keyType.noun) '\(key)'")
    }

    /// The committed offsets of `group` (all partitions it has offsets for when `partitions` is nil).
    /// Partitions without a committed offset are absent. A `connection` to the coordinator saves the
    /// FindCoordinator round trip (for callers that poll).
    public func committedOffsets(group: String, partitions: [TopicPartition]? = nil,
                                 connection given: BrokerConnection? = nil) async throws -> [TopicPartition: Int64] {
        let connection: BrokerConnection
        if let given { connection = given } else { connection = try await coordinatorConnection(group: group) }
        let version = try connection.version(for: .offsetFetch)
        var byTopic: [String: [Int32]] = [:]
        for topicPartition in partitions ?? [] { byTopic[topicPartition.topic, default: []].append(topicPartition.partition) }
        var request = OffsetFetchRequest()
        request.requireStable = false
        if version >= 8 {
            var entry = OffsetFetchRequest.OffsetFetchRequestGroup()
            entry.groupId = group
            entry.topics = partitions == nil ? nil : byTopic.map { topic, indexes in
                var item = OffsetFetchRequest.OffsetFetchRequestTopics()
                item.name = topic
                item.partitionIndexes = indexes
                return item
            }
            request.groups = [entry]
        } else {
            request.groupId = group
            request.topics = partitions == nil ? nil : byTopic.map { topic, indexes in
                var item = OffsetFetchRequest.OffsetFetchRequestTopic()
                item.name = topic
                item.partitionIndexes = indexes
                return item
            }
        }
        let response = try await connection.send(request, version: version)
        var result: [TopicPartition: Int64] = [:]
        if version >= 8 {
            for entry in response.groups {
                try KafkaClientError.check(entry.errorCode, "fetch offsets of group '\(group)'")
                for topic in entry.topics {
                    for partition in topic.partitions where partition.committedOffset >= 0 {
                        try KafkaClientError.check(partition.errorCode, "fetch offset of \(topic.name)-\(partition.partitionIndex)")
                        result[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] = partition.committedOffset
                    }
                }
            }
        } else {
            try KafkaClientError.check(response.errorCode, "fetch offsets of group '\(group)'")
            for topic in response.topics {
                for partition in topic.partitions where partition.committedOffset >= 0 {
                    try KafkaClientError.check(partition.errorCode, "fetch offset of \(topic.name)-\(partition.partitionIndex)")
                    result[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] = partition.committedOffset
                }
            }
        }
        return result
    }

    /// Commits `offsets` for `group`. Generation -1 and an empty member id commit for a group without
    /// active members (as `runnel group seek` does).
    public func commitOffsets(group: String, offsets: [TopicPartition: Int64], generationId: Int32 = -1,
                              memberId: String = "", connection given: BrokerConnection? = nil) async throws {
        guard !offsets.isEmpty else { return }
        let connection: BrokerConnection
        if let given { connection = given } else { connection = try await coordinatorConnection(group: group) }
        var byTopic: [String: [OffsetCommitRequest.OffsetCommitRequestPartition]] = [:]
        for (topicPartition, offset) in offsets {
            var partition = OffsetCommitRequest.OffsetCommitRequestPartition()
            partition.partitionIndex = topicPartition.partition
            partition.committedOffset = offset
            partition.committedLeaderEpoch = -1
            partition.committedMetadata = ""
            byTopic[topicPartition.topic, default: []].append(partition)
        }
        var request = OffsetCommitRequest()
        request.groupId = group
        request.generationIdOrMemberEpoch = generationId
        request.memberId = memberId
        request.groupInstanceId = nil
        request.topics = byTopic.map { topic, partitions in
            var entry = OffsetCommitRequest.OffsetCommitRequestTopic()
            entry.name = topic
            entry.partitions = partitions
            return entry
        }
        let response = try await connection.send(request)
        for topic in response.topics {
            for partition in topic.partitions {
                try KafkaClientError.check(partition.errorCode,
                                           "commit offset of \(topic.name)-\(partition.partitionIndex) for group '\(group)'")
            }
        }
    }
}
