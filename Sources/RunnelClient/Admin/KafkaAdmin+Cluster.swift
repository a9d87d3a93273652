// Cluster administration: leader elections on demand (ElectLeaders).
import KafkaProtocol

/// The result of electing one partition's leader.
public struct LeaderElectionResult: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    /// nil when the election succeeded; else Kafka's error name (ELECTION_NOT_NEEDED, ...).
    public var error: String?
    public var message: String?
}

extension KafkaAdmin {
    /// ElectLeaders' election types.
    public enum ElectionType: Int8, Sendable {
        /// The first replica of each partition leads, if it is in the ISR.
        case preferred = 0
        /// A partition without a leader takes any live replica (records may be lost).
        case unclean = 1
    }

    /// Elects leaders for `partitions` (topic → partition indexes; every partition when nil), sent to
    /// the controller. Partitions that already have the wanted leader are left out of an "every
    /// partition" answer, as Kafka does.
    /// - Throws: the request-level error (NOT_CONTROLLER, INVALID_REQUEST, ...).
    public func electLeaders(_ type: ElectionType, partitions: [String: [Int32]]?) async throws -> [LeaderElectionResult] {
        let connection = try await client.controllerConnection()
        let version = try connection.version(for: .electLeaders)
        guard type == .preferred || version >= 1 else {
            throw KafkaClientError.invalidArgument("the broker only supports preferred elections (ElectLeaders v0)")
        }
        var request = ElectLeadersRequest()
        request.electionType = type.rawValue
        request.timeoutMs = operationTimeoutMilliseconds
        request.topicPartitions = partitions?.sorted { $0.key < $1.key }.map { topic, indexes in
            var entry = ElectLeadersRequest.TopicPartitions()
            entry.topic = topic
            entry.partitions = indexes
            return entry
        }
        let response = try await connection.send(request, version: version)
        try KafkaClientError.check(response.errorCode, "elect leaders")
        await client.invalidate(topic: "")
        return response.replicaElectionResults.flatMap { topic in
            topic.partitionResult.map { result in
                LeaderElectionResult(topic: topic.topic, partition: result.partitionId,
                                     error: result.errorCode == 0 ? nil : ErrorCode(rawValue: result.errorCode).name,
                                     message: result.errorCode == 0 ? nil : result.errorMessage)
            }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }
}
