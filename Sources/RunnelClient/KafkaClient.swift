// RunnelClient: a native async/await Kafka client. KafkaClient owns the connections and the cluster
// metadata that the producer, consumer and admin share.
import KafkaProtocol
import Logging
import NIOCore

/// Settings shared by every client role.
public struct ClientConfiguration: Sendable {
    /// `bootstrap.servers`: where to find the cluster.
    public var bootstrapServers: [BrokerAddress]
    /// Per-connection settings (client id, timeouts).
    public var connection = ConnectionConfiguration()
    /// `metadata.max.age.ms`: cached metadata older than this is refreshed on use.
    public var metadataMaxAge: Duration = .seconds(300)
    /// `retry.backoff.ms`: the pause before retrying a failed request.
    public var retryBackoff: Duration = .milliseconds(100)
    /// Whether Metadata requests may create topics the broker does not know (broker permitting).
    public var allowAutoTopicCreation = false

    /// Settings with Kafka's defaults, bootstrapping from `bootstrapServers`.
    public init(bootstrapServers: [BrokerAddress]) {
        self.bootstrapServers = bootstrapServers
    }

    /// Parses a `host:port,host:port` list.
    public init(brokers: String) throws(KafkaClientError) {
        self.init(bootstrapServers: try BrokerAddress.parseList(brokers))
    }
}

/// The shared core of the client: one connection per broker, opened on demand, and a metadata cache.
public actor KafkaClient {
    public nonisolated let configuration: ClientConfiguration
    let logger: Logger
    private var connections: [BrokerAddress: Task<BrokerConnection, any Error>] = [:]
    private var cachedMetadata = ClusterMetadata()
    private var metadataFetchedAt: ContinuousClock.Instant?
    private var isClosed = false

    /// A client; connections open on first use.
    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "runnel.client")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The latest metadata snapshot (may be empty before the first refresh).
    public var metadata: ClusterMetadata { cachedMetadata }

    // MARK: Connections

    /// A connection to `address`, reusing an open one.
    public func connection(to address: BrokerAddress) async throws -> BrokerConnection {
        guard !isClosed else { throw KafkaClientError.closed }
        if let existing = connections[address] {
            if let connection = try? await existing.value, connection.isActive { return connection }
            connections[address] = nil
        }
        let configuration = configuration.connection
        let task = Task { try await BrokerConnection.connect(to: address, configuration: configuration) }
        connections[address] = task
        do {
            return try await task.value
        } catch {
            connections[address] = nil
            throw error
        }
    }

    /// A connection to the broker with `nodeId` (from metadata).
    public func connection(toBroker nodeId: Int32) async throws -> BrokerConnection {
        if cachedMetadata.brokers[nodeId] == nil { try await refreshMetadata(topics: []) }
        guard let broker = cachedMetadata.brokers[nodeId] else {
            throw KafkaClientError.broker(code: .brokerNotAvailable, context: "broker \(nodeId)", message: "not in metadata")
        }
        return try await connection(to: broker.address)
    }

    /// A connection to any live broker: known brokers first, then the bootstrap servers.
    public func anyConnection() async throws -> BrokerConnection {
        for task in connections.values {
            if let connection = try? await task.value, connection.isActive { return connection }
        }
        var lastError: (any Error)?
        let candidates = cachedMetadata.brokers.values.map(\.address) + configuration.bootstrapServers
        for address in candidates {
            do { return try await connection(to: address) } catch { lastError = error }
        }
        throw lastError ?? KafkaClientError.invalidArgument("no bootstrap servers configured")
    }

    /// A connection to the controller (for admin requests), else any broker.
    public func controllerConnection() async throws -> BrokerConnection {
        if cachedMetadata.brokers.isEmpty { try await refreshMetadata(topics: []) }
        if let controller = cachedMetadata.brokers[cachedMetadata.controllerId] {
            if let connection = try? await connection(to: controller.address) { return connection }
        }
        return try await anyConnection()
    }

    /// Sends `request` to any broker (retrying once on another connection if the first one failed).
    public func sendToAny<Request: KafkaRequestMessage>(_ request: Request) async throws -> Request.Response {
        let connection = try await anyConnection()
        do {
            return try await connection.send(request)
        } catch let error as KafkaClientError where error.isConnectionProblem {
            await connection.close()
            return try await self.anyConnection().send(request)
        }
    }

    // MARK: Metadata

    /// Fetches metadata for `topics` (nil: all topics; []: brokers only) and merges it into the cache.
    @discardableResult
    public func refreshMetadata(topics: [String]?) async throws -> ClusterMetadata {
        var request = MetadataRequest()
        request.allowAutoTopicCreation = configuration.allowAutoTopicCreation
        if let topics {
            request.topics = topics.map { name in
                var topic = MetadataRequest.MetadataRequestTopic()
                topic.name = name
                return topic
            }
        } else {
            request.topics = nil
        }
        let response = try await sendToAny(request)
        let snapshot = ClusterMetadata(response)
        cachedMetadata.merge(snapshot, replacingAllTopics: topics == nil)
        metadataFetchedAt = .now
        return snapshot
    }

    /// Metadata of `topic`, from the cache when fresh, else refreshed. Throws `unknownTopic`. Retriable
    /// topic errors (LEADER_NOT_AVAILABLE while a topic is being created) are retried a few times.
    public func topicMetadata(_ topic: String, forceRefresh: Bool = false) async throws -> TopicMetadata {
        if !forceRefresh, let cached = cachedMetadata.topics[topic], cached.error == nil, isMetadataFresh {
            return cached
        }
        var attempt = 0
        while true {
            let snapshot = try await refreshMetadata(topics: [topic])
            guard let metadata = snapshot.topics[topic] else { throw KafkaClientError.unknownTopic(topic) }
            guard let error = metadata.error else { return metadata }
            if error == ErrorCode.unknownTopicOrPartition.name { throw KafkaClientError.unknownTopic(topic) }
            let code = ErrorCode(name: error) ?? .unknownServerError
            attempt += 1
            guard code.isRetriable, attempt < 5 else {
                throw KafkaClientError.broker(code: code, context: "topic '\(topic)'", message: nil)
            }
            try await Task.sleep(for: configuration.retryBackoff * attempt)
        }
    }

    private var isMetadataFresh: Bool {
        guard let fetched = metadataFetchedAt else { return false }
        return ContinuousClock.now - fetched < configuration.metadataMaxAge
    }

    /// Forgets cached metadata of `topic` so the next use refreshes it (after NOT_LEADER errors).
    public func invalidate(topic: String) {
        metadataFetchedAt = nil
    }

    // MARK: Lifecycle

    /// Closes every connection. Further calls fail with `closed`.
    public func close() async {
        isClosed = true
        let tasks = connections.values
        connections.removeAll()
        for task in tasks {
            if let connection = try? await task.value { await connection.close() }
        }
    }
}

extension KafkaClientError {
    /// True for failures of the connection itself (as opposed to a broker error code).
    var isConnectionProblem: Bool {
        switch self {
        case .connectionClosed, .connectionFailed, .requestTimedOut: true
        default: false
        }
    }
}
