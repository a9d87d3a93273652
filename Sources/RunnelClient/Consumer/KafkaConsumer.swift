// The consumer: assigned partitions, their positions, fetching from each partition's leader, seeking by
// offset or timestamp. Group membership (subscribe, commit) is in KafkaConsumer+Group.
import KafkaProtocol
import KafkaRecords
import NIOCore

/// A Kafka consumer. Use `assign` for chosen partitions, or `subscribe` (with a `group.id`) for a group.
///
/// ```swift
/// let consumer = KafkaConsumer(client: client)
/// try await consumer.assign(topic: "events", from: .beginning)
/// while true { for record in try await consumer.poll() { ... } }
/// ```
public actor KafkaConsumer {
    public let client: KafkaClient
    public let configuration: ConsumerConfiguration

    struct PartitionState {
        /// The next offset to fetch, once resolved.
        var position: Int64?
        /// Where to start when `position` is nil.
        var start: StartPosition?
        /// The high watermark (or last stable offset under read_committed) as last seen.
        var endOffset: Int64 = -1
        var logStartOffset: Int64 = -1
    }

    var partitions: [TopicPartition: PartitionState] = [:]
    /// Group state when subscribed (see KafkaConsumer+Group).
    var group: GroupState?
    /// A cooperative rebalance running while `poll` keeps fetching the retained partitions.
    var rebalanceTask: Task<Void, Never>?
    /// The failure of the last background rebalance, thrown by the next `poll`.
    var rebalanceError: (any Error)?

    /// A consumer on `client`; nothing is fetched until `assign` or `subscribe`.
    public init(client: KafkaClient, configuration: ConsumerConfiguration = .init()) {
        self.client = client
        self.configuration = configuration
    }

    // MARK: Assignment and positions

    /// Assigns exactly these partitions, each starting at its position.
    public func assign(_ positions: [TopicPartition: StartPosition]) {
        partitions = positions.mapValues { PartitionState(position: nil, start: $0) }
    }

    /// Assigns every partition of `topic` (or only `partitions`), all starting at `start`.
    @discardableResult
    public func assign(topic: String, partitions only: [Int32]? = nil, from start: StartPosition) async throws
        -> [TopicPartition] {
        let metadata = try await client.topicMetadata(topic)
        var chosen: [TopicPartition] = []
        for partition in only ?? metadata.partitions.map(\.partition) {
            guard metadata.partitions.contains(where: { $0.partition == partition }) else {
                throw KafkaClientError.broker(code: .unknownTopicOrPartition, context: "\(topic)-\(partition)",
                                              message: "topic '\(topic)' has \(metadata.partitionCount) partitions")
            }
            chosen.append(TopicPartition(topic: topic, partition: partition))
        }
        for topicPartition in chosen { partitions[topicPartition] = PartitionState(position: nil, start: start) }
        return chosen
    }

    /// The assigned partitions, sorted.
    public var assignment: [TopicPartition] { partitions.keys.sorted() }

    /// Moves `topicPartition` to `position` (resolved on the next poll).
    public func seek(_ topicPartition: TopicPartition, to position: StartPosition) {
        guard partitions[topicPartition] != nil else { return }
        if case .offset(let offset) = position {
            partitions[topicPartition]?.position = offset
            partitions[topicPartition]?.start = nil
        } else {
            partitions[topicPartition]?.position = nil
            partitions[topicPartition]?.start = position
        }
    }

    /// The next offset to be fetched, or nil while unresolved.
    public func position(of topicPartition: TopicPartition) -> Int64? { partitions[topicPartition]?.position }

    /// The log end offset (high watermark, or last stable offset with read_committed) last seen.
    public func endOffset(of topicPartition: TopicPartition) -> Int64? {
        guard let end = partitions[topicPartition]?.endOffset, end >= 0 else { return nil }
        return end
    }

    /// True when every assigned partition's position has reached its end offset.
    public var isAtEnd: Bool {
        partitions.values.allSatisfy { state in
            guard let position = state.position, state.endOffset >= 0 else { return false }
            return position >= state.endOffset
        }
    }

    /// Resolves start positions (earliest, latest, timestamps, counts from the end) with ListOffsets.
    func resolvePositions() async throws {
        let unresolved = partitions.filter { $0.value.position == nil }
        guard !unresolved.isEmpty else { return }
        let admin = KafkaAdmin(client: client)
        var byTopic: [String: [TopicPartition]] = [:]
        for topicPartition in unresolved.keys { byTopic[topicPartition.topic, default: []].append(topicPartition) }
        for (topic, topicPartitions) in byTopic {
            let indexes = topicPartitions.map(\.partition)
            let latest = try await admin.listOffsets(topic: topic, partitions: indexes, spec: .latest,
                                                     isolation: configuration.isolationLevel)
            var earliest: [PartitionOffset] = []
            for topicPartition in topicPartitions {
                guard let end = latest.first(where: { $0.partition == topicPartition.partition })?.offset else { continue }
                partitions[topicPartition]?.endOffset = end
                let start = partitions[topicPartition]?.start ?? startForReset()
                let offset: Int64
                switch start {
                case .offset(let value): offset = value
                case .end: offset = end
                case .beginning, .fromEnd:
                    if earliest.isEmpty {
                        earliest = try await admin.listOffsets(topic: topic, partitions: indexes, spec: .earliest)
                    }
                    let first = earliest.first(where: { $0.partition == topicPartition.partition })?.offset ?? 0
                    if case .fromEnd(let count) = start {
                        offset = Swift.max(first, end - count)
                    } else {
                        offset = first
                    }
                case .timestamp(let millis):
                    let found = try await admin.listOffsets(topic: topic, partitions: [topicPartition.partition],
                                                            spec: .timestamp(millis),
                                                            isolation: configuration.isolationLevel)
                    let value = found.first?.offset ?? -1
                    offset = value >= 0 ? value : end
                }
                if partitions[topicPartition]?.position == nil {
                    partitions[topicPartition]?.position = offset
                    partitions[topicPartition]?.start = nil
                }
            }
        }
    }

    private func startForReset() -> StartPosition {
        configuration.autoOffsetReset == .earliest ? .beginning : .end
    }

    // MARK: Fetching

    /// Fetches once from the leaders of all assigned partitions (waiting up to `fetch.max.wait.ms` for
    /// data) and returns the records, in offset order per partition.
    public func poll() async throws -> [ConsumerRecord] {
        try await groupPollHook()
        try await resolvePositions()
        var byLeader: [Int32: [(TopicPartition, Int64)]] = [:]
        var missingLeader: Set<String> = []
        for (topicPartition, state) in partitions {
            guard let position = state.position else { continue }
            guard let leader = await client.metadata.leader(topic: topicPartition.topic,
                                                            partition: topicPartition.partition) else {
                missingLeader.insert(topicPartition.topic)
                continue
            }
            byLeader[leader, default: []].append((topicPartition, position))
        }
        for topic in missingLeader { _ = try? await client.topicMetadata(topic, forceRefresh: true) }
        guard !byLeader.isEmpty else { return [] }
        let configuration = self.configuration
        let client = self.client
        let known = await client.metadata.topics
        var topicIds: [String: KafkaUUID] = [:]
        for entries in byLeader.values {
            for (topicPartition, _) in entries { topicIds[topicPartition.topic] = known[topicPartition.topic]?.uuid ?? .zero }
        }
        let ids = topicIds
        let responses = try await withThrowingTaskGroup(of: FetchOutcome.self) { group in
            for (leader, entries) in byLeader {
                group.addTask {
                    do {
                        let connection = try await client.connection(toBroker: leader)
                        let (request, version) = try Self.fetchRequest(for: entries, topicIds: ids,
                                                                       apiVersions: connection.apiVersions,
                                                                       configuration: configuration)
                        return FetchOutcome(response: try await connection.send(request, version: version),
                                            version: version, entries: entries)
                    } catch let error as KafkaClientError where error.isRetriable {
                        await client.invalidate(topic: "")
                        return FetchOutcome(response: nil, version: 0, entries: entries)
                    }
                }
            }
            var all: [FetchOutcome] = []
            for try await response in group { all.append(response) }
            return all
        }
        var names: [KafkaUUID: String] = [:]
        for (name, id) in ids where id != .zero { names[id] = name }
        var records: [ConsumerRecord] = []
        var stale: Set<String> = []
        for outcome in responses {
            guard let response = outcome.response else { continue }
            if Self.isTopicIdError(ErrorCode(rawValue: response.errorCode)) {
                stale.formUnion(outcome.entries.map(\.0.topic))
                continue
            }
            try KafkaClientError.check(response.errorCode, "fetch")
            let positions = Dictionary(outcome.entries, uniquingKeysWith: { first, _ in first })
            for topic in response.responses {
                let name = outcome.version >= 13 ? names[topic.topicId] : topic.topic
                guard let name else { continue }
                for data in topic.partitions {
                    let topicPartition = TopicPartition(topic: name, partition: data.partitionIndex)
                    guard let fetchedAt = positions[topicPartition] else { continue }
                    if Self.isTopicIdError(ErrorCode(rawValue: data.errorCode)) {
                        stale.insert(name)
                        continue
                    }
                    records += try apply(data, for: topicPartition, fetchedAt: fetchedAt)
                }
            }
        }
        // UNKNOWN_TOPIC_ID and kin: the topic was recreated or metadata is stale; learn the current id.
        for topic in stale { _ = try? await client.topicMetadata(topic, forceRefresh: true) }
        return records
    }

    /// One leader's fetch: the response (nil after a retriable connection failure) and what was asked.
    struct FetchOutcome: Sendable {
        var response: FetchResponse?
        var version: Int16
        var entries: [(TopicPartition, Int64)]
    }

    static func isTopicIdError(_ code: ErrorCode) -> Bool {
        code == .unknownTopicId || code == .inconsistentTopicId || code == .fetchSessionTopicIdError
    }

    private func apply(_ data: FetchResponse.PartitionData, for topicPartition: TopicPartition,
                       fetchedAt: Int64) throws -> [ConsumerRecord] {
        // A seek while the fetch was in flight wins over the fetched data.
        guard let state = partitions[topicPartition], state.position == fetchedAt else { return [] }
        let code = ErrorCode(rawValue: data.errorCode)
        switch code {
        case .none: break
        case .offsetOutOfRange:
            guard configuration.autoOffsetReset != .none else {
                throw KafkaClientError.broker(code: code, context: "fetch \(topicPartition) at offset \(fetchedAt)",
                                              message: nil)
            }
            partitions[topicPartition]?.position = nil
            partitions[topicPartition]?.start = startForReset()
            return []
        case .unknownTopicOrPartition where !code.isRetriable:
            throw KafkaClientError.unknownTopic(topicPartition.topic)
        default:
            if code.isRetriable { return [] }
            throw KafkaClientError.broker(code: code, context: "fetch \(topicPartition)", message: nil)
        }
        let end = configuration.isolationLevel == .readCommitted && data.lastStableOffset >= 0
            ? data.lastStableOffset : data.highWatermark
        partitions[topicPartition]?.endOffset = end
        partitions[topicPartition]?.logStartOffset = data.logStartOffset
        guard let bytes = data.records, bytes.readableBytes > 0 else { return [] }
        let decoder = FetchedBatchDecoder(topicPartition: topicPartition, isolationLevel: configuration.isolationLevel,
                                          checkCRCs: configuration.checkCRCs)
        let aborted = (data.abortedTransactions ?? []).map { (producerId: $0.producerId, firstOffset: $0.firstOffset) }
        let output = try decoder.decode(bytes, position: fetchedAt, abortedTransactions: aborted)
        var next = output.nextOffset
        // Under read_committed, never move past the last stable offset on control-only data.
        if let last = output.records.last { next = Swift.max(next, last.offset + 1) }
        partitions[topicPartition]?.position = next
        return output.records
    }

    /// The Fetch request for `entries` and the version to send it in: the negotiated version, or at most
    /// v12 (topics by name) when a topic's id is not known.
    static func fetchRequest(for entries: [(TopicPartition, Int64)], topicIds: [String: KafkaUUID],
                             apiVersions: ApiVersionTable, configuration: ConsumerConfiguration) throws
        -> (FetchRequest, Int16) {
        let idsKnown = entries.allSatisfy { (topicIds[$0.0.topic] ?? .zero) != .zero }
        guard let version = apiVersions.negotiatedVersion(for: .fetch, atMost: idsKnown ? .max : 12) else {
            throw KafkaClientError.unsupportedApi(address: "broker", api: "Fetch")
        }
        var request = FetchRequest()
        request.replicaId = -1
        request.maxWaitMs = configuration.fetchMaxWaitMilliseconds
        request.minBytes = configuration.fetchMinBytes
        request.maxBytes = configuration.fetchMaxBytes
        request.isolationLevel = configuration.isolationLevel.rawValue
        request.sessionId = 0
        request.sessionEpoch = -1
        var byTopic: [String: [FetchRequest.FetchPartition]] = [:]
        for (topicPartition, position) in entries {
            var partition = FetchRequest.FetchPartition()
            partition.partition = topicPartition.partition
            partition.currentLeaderEpoch = -1
            partition.fetchOffset = position
            partition.lastFetchedEpoch = -1
            partition.logStartOffset = -1
            partition.partitionMaxBytes = configuration.maxPartitionFetchBytes
            byTopic[topicPartition.topic, default: []].append(partition)
        }
        request.topics = byTopic.map { topic, partitions in
            var fetchTopic = FetchRequest.FetchTopic()
            if version >= 13 {
                fetchTopic.topicId = topicIds[topic] ?? .zero
            } else {
                fetchTopic.topic = topic
            }
            fetchTopic.partitions = partitions
            return fetchTopic
        }
        request.forgottenTopicsData = []
        request.rackId = ""
        return (request, version)
    }
}
