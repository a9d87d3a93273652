// The consumer: assigned partitions, their positions, seeking by offset or timestamp. Fetching is in
// KafkaConsumer+Fetch, group membership (subscribe, commit) in KafkaConsumer+Group.
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
    /// The next fetch, sent before `poll` returned records so the broker works while they are processed.
    /// Dropped (its response ignored) whenever positions or the assignment change other than by fetching.
    var prefetch: Task<[FetchOutcome], any Error>?

    /// A consumer on `client`; nothing is fetched until `assign` or `subscribe`.
    public init(client: KafkaClient, configuration: ConsumerConfiguration = .init()) {
        self.client = client
        self.configuration = configuration
    }

    // MARK: Assignment and positions

    /// Assigns exactly these partitions, each starting at its position.
    public func assign(_ positions: [TopicPartition: StartPosition]) {
        prefetch = nil
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
        prefetch = nil
        for topicPartition in chosen { partitions[topicPartition] = PartitionState(position: nil, start: start) }
        return chosen
    }

    /// The assigned partitions, sorted.
    public var assignment: [TopicPartition] { partitions.keys.sorted() }

    /// Moves `topicPartition` to `position` (resolved on the next poll).
    public func seek(_ topicPartition: TopicPartition, to position: StartPosition) {
        guard partitions[topicPartition] != nil else { return }
        prefetch = nil  // fetched for the old position
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

    func startForReset() -> StartPosition {
        configuration.autoOffsetReset == .earliest ? .beginning : .end
    }
}
