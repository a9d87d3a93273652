// Partition reassignment (AlterPartitionReassignments, ListPartitionReassignments) and log dirs
// (DescribeLogDirs).
import KafkaProtocol

/// The outcome of starting or cancelling one partition's reassignment.
public struct ReassignmentResult: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    /// nil when accepted; else Kafka's error name (INVALID_REPLICA_ASSIGNMENT, ...).
    public var error: String?
    public var message: String?
}

/// A reassignment in progress.
public struct OngoingReassignment: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    /// Target replicas followed by the ones being removed.
    public var replicas: [Int32]
    public var addingReplicas: [Int32]
    public var removingReplicas: [Int32]
}

/// One log dir of one broker.
public struct LogDirDescription: Sendable, Codable, Equatable {
    public struct PartitionEntry: Sendable, Codable, Equatable {
        public var topic: String
        public var partition: Int32
        public var size: Int64
        public var offsetLag: Int64
        public var isFuture: Bool
    }
    public var broker: Int32
    public var path: String
    /// nil when the dir is online; else Kafka's error name (KAFKA_STORAGE_ERROR).
    public var error: String?
    /// -1 when the broker does not say (DescribeLogDirs below v4).
    public var totalBytes: Int64
    public var usableBytes: Int64
    public var partitions: [PartitionEntry]
}

extension KafkaAdmin {
    /// One partition to move: `replicas` nil cancels its reassignment in progress.
    public struct Reassignment: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var replicas: [Int32]?

        public init(topic: String, partition: Int32, replicas: [Int32]?) {
            self.topic = topic
            self.partition = partition
            self.replicas = replicas
        }
    }

    /// Starts (or cancels) reassignments, sent to the controller; one result per partition.
    /// - Throws: the request-level error (NOT_CONTROLLER, ...).
    public func alterPartitionReassignments(_ reassignments: [Reassignment]) async throws -> [ReassignmentResult] {
        let connection = try await client.controllerConnection()
        let version = try connection.version(for: .alterPartitionReassignments)
        var request = AlterPartitionReassignmentsRequest()
        request.timeoutMs = operationTimeoutMilliseconds
        request.topics = Dictionary(grouping: reassignments, by: \.topic).sorted { $0.key < $1.key }.map { topic, entries in
            var reassignable = AlterPartitionReassignmentsRequest.ReassignableTopic()
            reassignable.name = topic
            reassignable.partitions = entries.map { entry in
                var partition = AlterPartitionReassignmentsRequest.ReassignablePartition()
                partition.partitionIndex = entry.partition
                partition.replicas = entry.replicas
                return partition
            }
            return reassignable
        }
        let response = try await connection.send(request, version: version)
        try KafkaClientError.check(response.errorCode, "alter partition reassignments", message: response.errorMessage)
        await client.invalidate(topic: "")
        return response.responses.flatMap { topic in
            topic.partitions.map { result in
                ReassignmentResult(topic: topic.name, partition: result.partitionIndex,
                                   error: result.errorCode == 0 ? nil : ErrorCode(rawValue: result.errorCode).name,
                                   message: result.errorCode == 0 ? nil : result.errorMessage)
            }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// The reassignments in progress: every one (nil) or those among `partitions` (topic → indexes).
    public func listPartitionReassignments(_ partitions: [String: [Int32]]? = nil) async throws -> [OngoingReassignment] {
        let connection = try await client.controllerConnection()
        let version = try connection.version(for: .listPartitionReassignments)
        var request = ListPartitionReassignmentsRequest()
        request.timeoutMs = operationTimeoutMilliseconds
        request.topics = partitions?.sorted { $0.key < $1.key }.map { topic, indexes in
            var entry = ListPartitionReassignmentsRequest.ListPartitionReassignmentsTopics()
            entry.name = topic
            entry.partitionIndexes = indexes
            return entry
        }
        let response = try await connection.send(request, version: version)
        try KafkaClientError.check(response.errorCode, "list partition reassignments", message: response.errorMessage)
        return response.topics.flatMap { topic in
            topic.partitions.map {
                OngoingReassignment(topic: topic.name, partition: $0.partitionIndex, replicas: $0.replicas,
                                    addingReplicas: $0.addingReplicas, removingReplicas: $0.removingReplicas)
            }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// The log dirs of broker `nodeId` and the partitions in them (all, or those of `topics`).
    public func describeLogDirs(broker nodeId: Int32, topics: [String: [Int32]]? = nil) async throws -> [LogDirDescription] {
        let connection = try await client.connection(toBroker: nodeId)
        let version = try connection.version(for: .describeLogDirs)
        var request = DescribeLogDirsRequest()
        request.topics = topics?.sorted { $0.key < $1.key }.map { topic, indexes in
            var entry = DescribeLogDirsRequest.DescribableLogDirTopic()
            entry.topic = topic
            entry.partitions = indexes
            return entry
        }
        let response = try await connection.send(request, version: version)
        try KafkaClientError.check(response.errorCode, "describe log dirs")
        return response.results.map { dir in
            LogDirDescription(
                broker: nodeId, path: dir.logDir, error: dir.errorCode == 0 ? nil : ErrorCode(rawValue: dir.errorCode).name,
                totalBytes: dir.totalBytes, usableBytes: dir.usableBytes,
                partitions: dir.topics.flatMap { topic in
                    topic.partitions.map {
                        LogDirDescription.PartitionEntry(topic: topic.name, partition: $0.partitionIndex, size: $0.partitionSize,
                                                         offsetLag: $0.offsetLag, isFuture: $0.isFutureKey)
                    }
                }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) })
        }
    }
}
