// Administration of topics and the cluster: create, list, describe, delete topics, add partitions,
// describe the cluster.
import KafkaProtocol

/// Admin operations over a shared `KafkaClient` (the Java client's `Admin`).
public struct KafkaAdmin: Sendable {
    public let client: KafkaClient
    /// `timeout.ms` sent with topic operations.
    public var operationTimeoutMilliseconds: Int32 = 30_000

    /// Admin operations over `client` (which stays owned by the caller).
    public init(client: KafkaClient) {
        self.client = client
    }

    // MARK: Topics

    /// All topics (internal ones too when `includeInternal`), sorted by name.
    public func listTopics(includeInternal: Bool = false) async throws -> [TopicMetadata] {
        let metadata = try await client.refreshMetadata(topics: nil)
        return metadata.topics.values.filter { includeInternal || !$0.isInternal }.sorted { $0.name < $1.name }
    }

    /// Metadata of `names`; throws `unknownTopic` for the first that does not exist.
    public func describeTopics(_ names: [String]) async throws -> [TopicMetadata] {
        var result: [TopicMetadata] = []
        for name in names {
            result.append(try await client.topicMetadata(name, forceRefresh: true))
        }
        return result
    }

    /// Creates `topic`; throws the broker's error (TOPIC_ALREADY_EXISTS, INVALID_CONFIG, ...).
    public func createTopic(_ topic: NewTopic, validateOnly: Bool = false) async throws {
        let results = try await createTopics([topic], validateOnly: validateOnly)
        if let error = results[topic.name] ?? nil { throw error }
    }

    /// Creates topics; the result maps each name to nil (created) or its error.
    public func createTopics(_ topics: [NewTopic], validateOnly: Bool = false) async throws
        -> [String: KafkaClientError?] {
        var request = CreateTopicsRequest()
        request.timeoutMs = operationTimeoutMilliseconds
        request.validateOnly = validateOnly
        request.topics = topics.map { topic in
            var creatable = CreateTopicsRequest.CreatableTopic()
            creatable.name = topic.name
            creatable.numPartitions = topic.numPartitions
            creatable.replicationFactor = topic.replicationFactor
            creatable.configs = topic.configs.sorted { $0.key < $1.key }.map { name, value in
                var config = CreateTopicsRequest.CreatableTopicConfig()
                config.name = name
                config.value = value
                return config
            }
            return creatable
        }
        let response = try await client.controllerConnection().send(request)
        var results: [String: KafkaClientError?] = [:]
        for result in response.topics {
            results[result.name] = result.errorCode == 0 ? nil : KafkaClientError.broker(
                code: ErrorCode(rawValue: result.errorCode), context: "create topic '\(result.name)'",
                message: result.errorMessage)
        }
        await client.invalidate(topic: "")
        return results
    }

    /// Deletes topics; throws the first error (UNKNOWN_TOPIC_OR_PARTITION, ...).
    public func deleteTopics(_ names: [String]) async throws {
        let connection = try await client.controllerConnection()
        let version = try connection.version(for: .deleteTopics)
        var request = DeleteTopicsRequest()
        request.timeoutMs = operationTimeoutMilliseconds
        if version >= 6 {
            request.topics = names.map { name in
                var state = DeleteTopicsRequest.DeleteTopicState()
                state.name = name
                return state
            }
        } else {
            request.topicNames = names
        }
        let response = try await connection.send(request, version: version)
        for result in response.responses where result.errorCode != 0 {
            let name = result.name ?? "\(result.topicId)"
            if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue { throw KafkaClientError.unknownTopic(name) }
            try KafkaClientError.check(result.errorCode, "delete topic '\(name)'", message: result.errorMessage)
        }
        await client.invalidate(topic: "")
    }

    /// Raises the partition count of `topic` to `totalCount`.
    public func createPartitions(topic: String, totalCount: Int32, validateOnly: Bool = false) async throws {
        var request = CreatePartitionsRequest()
        request.timeoutMs = operationTimeoutMilliseconds
        request.validateOnly = validateOnly
        var entry = CreatePartitionsRequest.CreatePartitionsTopic()
        entry.name = topic
        entry.count = totalCount
        entry.assignments = nil
        request.topics = [entry]
        let response = try await client.controllerConnection().send(request)
        for result in response.results where result.errorCode != 0 {
            if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue { throw KafkaClientError.unknownTopic(topic) }
            try KafkaClientError.check(result.errorCode, "add partitions to '\(result.name)'", message: result.errorMessage)
        }
        await client.invalidate(topic: topic)
    }

    /// Waits until every topic in `names` appears in metadata with a leader for each partition
    /// (`present`), or has disappeared (`!present`); gives up quietly after `timeout`.
    /// Kafka propagates topic changes to brokers asynchronously; this makes a create or delete visible
    /// to the next command.
    public func awaitTopics(_ names: [String], present: Bool, timeout: Duration = .seconds(10)) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let metadata = try? await client.refreshMetadata(topics: names) else { return }
            let done = names.allSatisfy { name in
                guard let topic = metadata.topics[name], topic.error == nil else { return !present }
                return present && !topic.partitions.isEmpty && topic.partitions.allSatisfy { $0.leader >= 0 }
            }
            if done { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: Cluster

    /// The cluster id, controller and brokers (DescribeCluster, or Metadata on brokers without it).
    public func describeCluster() async throws -> ClusterDescription {
        let connection = try await client.anyConnection()
        if connection.apiVersions.supports(.describeCluster) {
            let version = try connection.version(for: .describeCluster)
            var request = DescribeClusterRequest()
            request.includeClusterAuthorizedOperations = false
            request.endpointType = 1
            if version >= 2 { request.includeFencedBrokers = false }
            let response = try await connection.send(request, version: version)
            try KafkaClientError.check(response.errorCode, "describe cluster", message: response.errorMessage)
            let brokers = response.brokers.map {
                BrokerMetadata(nodeId: $0.brokerId, host: $0.host, port: $0.port, rack: $0.rack)
            }.sorted { $0.nodeId < $1.nodeId }
            return ClusterDescription(clusterId: response.clusterId, controllerId: response.controllerId, brokers: brokers)
        }
        let metadata = try await client.refreshMetadata(topics: [])
        return ClusterDescription(clusterId: metadata.clusterId, controllerId: metadata.controllerId,
                                  brokers: metadata.brokers.values.sorted { $0.nodeId < $1.nodeId })
    }
}
