// The consumer's fetching: one Fetch per leader for all assigned partitions, topic ids from v13,
// decoding into records, and one fetch kept in flight while the application processes records.
import KafkaProtocol
import KafkaRecords
import NIOCore

extension KafkaConsumer {
    /// One leader's fetch: the response (nil after a retriable connection failure), its version and what
    /// was asked (partition and position).
    struct FetchOutcome: Sendable {
        var response: FetchResponse?
        var version: Int16
        var entries: [(TopicPartition, Int64)]
        /// The topic ids the request used (v13+ responses name topics by id only).
        var ids: [String: KafkaUUID]
    }

    /// Fetches from the leaders of all assigned partitions (waiting up to `fetch.max.wait.ms` for data)
    /// and returns the records, in offset order per partition. When records came back, the next fetch is
    /// sent before returning (as the Java consumer does), so the broker prepares it meanwhile.
    public func poll() async throws -> [ConsumerRecord] {
        try await groupPollHook()
        try await resolvePositions()
        let outcomes: [FetchOutcome]
        if let pending = prefetch {
            prefetch = nil
            outcomes = try await pending.value
        } else {
            guard let plan = try await fetchPlan() else { return [] }
            outcomes = try await Self.fetch(plan, client: client, configuration: configuration)
        }
        let records = try await process(outcomes)
        if !records.isEmpty, let plan = try await fetchPlan() {
            let client = self.client
            let configuration = self.configuration
            prefetch = Task { try await Self.fetch(plan, client: client, configuration: configuration) }
        }
        return records
    }

    /// What to fetch now: positions grouped by leader, with the topic ids known from metadata. Nil when
    /// nothing can be fetched (no positions, or leaders unknown: metadata is refreshed then).
    private func fetchPlan() async throws -> (byLeader: [Int32: [(TopicPartition, Int64)]], ids: [String: KafkaUUID])? {
        let metadata = await client.metadata
        var byLeader: [Int32: [(TopicPartition, Int64)]] = [:]
        var missingLeader: Set<String> = []
        var ids: [String: KafkaUUID] = [:]
        for (topicPartition, state) in partitions {
            guard let position = state.position else { continue }
            guard let leader = metadata.leader(topic: topicPartition.topic, partition: topicPartition.partition) else {
                missingLeader.insert(topicPartition.topic)
                continue
            }
            byLeader[leader, default: []].append((topicPartition, position))
            if ids[topicPartition.topic] == nil {
                ids[topicPartition.topic] = metadata.topics[topicPartition.topic]?.uuid ?? .zero
            }
        }
        for topic in missingLeader { _ = try? await client.topicMetadata(topic, forceRefresh: true) }
        return byLeader.isEmpty ? nil : (byLeader, ids)
    }

    /// Sends one Fetch per leader and waits for all of them.
    private static func fetch(_ plan: (byLeader: [Int32: [(TopicPartition, Int64)]], ids: [String: KafkaUUID]),
                              client: KafkaClient, configuration: ConsumerConfiguration) async throws -> [FetchOutcome] {
        try await withThrowingTaskGroup(of: FetchOutcome.self) { group in
            for (leader, entries) in plan.byLeader {
                group.addTask {
                    do {
                        let connection = try await client.connection(toBroker: leader)
                        let (request, version) = try Self.fetchRequest(for: entries, topicIds: plan.ids,
                                                                       apiVersions: connection.apiVersions,
                                                                       configuration: configuration)
                        return FetchOutcome(response: try await connection.send(request, version: version),
                                            version: version, entries: entries, ids: plan.ids)
                    } catch let error as KafkaClientError where error.isRetriable {
                        await client.invalidate(topic: "")
                        return FetchOutcome(response: nil, version: 0, entries: entries, ids: plan.ids)
                    }
                }
            }
            var all: [FetchOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
    }

    /// Applies fetched data to the positions and decodes the records.
    private func process(_ outcomes: [FetchOutcome]) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        var stale: Set<String> = []
        for outcome in outcomes {
            guard let response = outcome.response else { continue }
            if Self.isTopicIdError(ErrorCode(rawValue: response.errorCode)) {
                stale.formUnion(outcome.entries.map(\.0.topic))
                continue
            }
            try KafkaClientError.check(response.errorCode, "fetch")
            let positions = Dictionary(outcome.entries, uniquingKeysWith: { first, _ in first })
            var names: [KafkaUUID: String] = [:]
            if outcome.version >= 13 {
                for (name, id) in outcome.ids where id != .zero { names[id] = name }
            }
            for topic in response.responses {
                guard let name = outcome.version >= 13 ? names[topic.topicId] : topic.topic else { continue }
                for data in topic.partitions {
                    let topicPartition = TopicPartition(topic: name, partition: data.partitionIndex)
                    guard let fetchedAt = positions[topicPartition] else { continue }
                    if Self.isTopicIdError(ErrorCode(rawValue: data.errorCode)) {
                        stale.insert(name)
                        continue
                    }
                    if records.isEmpty {
                        records = try apply(data, for: topicPartition, fetchedAt: fetchedAt)
                    } else {
                        records += try apply(data, for: topicPartition, fetchedAt: fetchedAt)
                    }
                }
            }
        }
        // UNKNOWN_TOPIC_ID and kin: the topic was recreated or metadata is stale; learn the current id.
        for topic in stale { _ = try? await client.topicMetadata(topic, forceRefresh: true) }
        return records
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
