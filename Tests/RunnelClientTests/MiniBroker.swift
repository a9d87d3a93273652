// An in-memory single-node broker for producer/consumer tests: Metadata, InitProducerId, Produce (offsets
// assigned by rewriting the batch header), Fetch and ListOffsets; with injectable produce errors.
import KafkaProtocol
import KafkaRecords
import NIOCore
import Synchronization
@testable import RunnelClient

final class MiniBroker: Sendable {
    struct State {
        var port = 0
        var partitions: [String: [[ByteBuffer]]] = [:]
        var nextOffsets: [TopicPartition: Int64] = [:]
        /// Errors to answer the next Produce requests with (front first), per partition.
        var produceErrors: [ErrorCode] = []
        var produceRequests = 0
        var sequencesSeen: [TopicPartition: [Int32]] = [:]
        /// Batches holding a record value with this text are refused with MESSAGE_TOO_LARGE.
        var refuseValuesContaining: String?
        /// The next sequence expected per partition from an idempotent producer (as a broker checks it).
        var expectedSequence: [TopicPartition: Int32] = [:]
        /// A one-member group coordinator: committed offsets and the last assignment by group.
        var committed: [String: [TopicPartition: Int64]] = [:]
        var assignments: [String: ByteBuffer] = [:]
        var joins = 0
        var leaves = 0
        /// Topic ids reported in Metadata (none: all-zero ids, as brokers before topic ids).
        var topicIds: [String: KafkaUUID] = [:]
        /// The highest Produce and Fetch versions advertised (13+ address topics by id).
        var maxDataVersion: Int16 = 12
        /// The versions of the Produce and Fetch requests received.
        var produceVersions: [Int16] = []
        var fetchVersions: [Int16] = []
    }

    /// The broker's state behind a lock (shared with the request handler).
    final class Store: Sendable {
        let mutex = Mutex(State())
        func withLock<T>(_ body: (inout State) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    let state = Store()
    let fake: FakeBroker

    var address: BrokerAddress { fake.address }

    /// A broker holding `topics` (name → partition count). With `topicIds`, topics get ids in Metadata and
    /// Produce/Fetch are offered up to `dataVersion`.
    init(topics: [String: Int], topicIds: Bool = false, dataVersion: Int16 = 12) async throws {
        state.withLock { state in
            for (name, count) in topics { state.partitions[name] = Array(repeating: [], count: count) }
            if topicIds { for name in topics.keys { state.topicIds[name] = KafkaUUID.random() } }
            state.maxDataVersion = dataVersion
        }
        let store = state
        fake = try await FakeBroker { header, body in
            MiniBroker.handle(header, &body, state: store)
        }
        let port = fake.port
        state.withLock { $0.port = port }
    }

    func stop() async { await fake.stop() }

    /// All records stored in a partition, in offset order.
    func records(_ topic: String, _ partition: Int) throws -> [Record] {
        let batches = state.withLock { $0.partitions[topic]?[partition] ?? [] }
        return try batches.flatMap { try RecordBatch($0).records() }
    }

    static let ranges: [ApiKey: ClosedRange<Int16>] = [
        .apiVersions: 0...3, .metadata: 0...12, .produce: 3...12, .fetch: 4...12, .listOffsets: 1...9,
        .initProducerId: 0...4, .findCoordinator: 0...4, .joinGroup: 0...9, .syncGroup: 0...5,
        .heartbeat: 0...4, .leaveGroup: 0...5, .offsetCommit: 2...9, .offsetFetch: 1...9,
    ]

    private static func handle(_ header: RequestHeader, _ body: inout ByteBuffer, state: Store)
        -> (any KafkaMessage)? {
        let version = header.apiVersion
        switch ApiKey(rawValue: header.apiKey) {
        case .apiVersions:
            var offered = ranges
            let top = state.withLock { $0.maxDataVersion }
            offered[.produce] = 3...top
            offered[.fetch] = 4...top
            return FakeBroker.apiVersions(offered)
        case .metadata:
            guard let request = try? MetadataRequest(from: &body, version: version) else { return nil }
            return state.withLock { state in
                var response = MetadataResponse()
                var broker = MetadataResponse.MetadataResponseBroker()
                broker.nodeId = 1
                broker.host = "127.0.0.1"
                broker.port = Int32(state.port)
                response.brokers = [broker]
                response.controllerId = 1
                response.clusterId = "mini"
                let names = request.topics?.compactMap(\.name) ?? Array(state.partitions.keys)
                response.topics = names.map { name in
                    var topic = MetadataResponse.MetadataResponseTopic()
                    topic.name = name
                    topic.topicId = state.topicIds[name] ?? .zero
                    guard let partitions = state.partitions[name] else {
                        topic.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                        return topic
                    }
                    topic.partitions = partitions.indices.map { index in
                        var partition = MetadataResponse.MetadataResponsePartition()
                        partition.partitionIndex = Int32(index)
                        partition.leaderId = 1
                        partition.replicaNodes = [1]
                        partition.isrNodes = [1]
                        return partition
                    }
                    return topic
                }
                return response
            }
        case .initProducerId:
            var response = InitProducerIdResponse()
            response.producerId = 4242
            response.producerEpoch = 0
            return response
        case .produce:
            guard let request = try? ProduceRequest(from: &body, version: version) else { return nil }
            return state.withLock { state in
                state.produceRequests += 1
                state.produceVersions.append(version)
                let injected = state.produceErrors.isEmpty ? nil : state.produceErrors.removeFirst()
                var response = ProduceResponse()
                response.responses = request.topicData.map { requested in
                    var topic = requested
                    if version >= 13 { topic.name = state.topicIds.first { $0.value == topic.topicId }?.key ?? "" }
                    var result = ProduceResponse.TopicProduceResponse()
                    result.name = topic.name
                    result.topicId = topic.topicId
                    result.partitionResponses = topic.partitionData.map { data in
                        var partition = ProduceResponse.PartitionProduceResponse()
                        partition.index = data.index
                        if topic.name.isEmpty {
                            partition.errorCode = ErrorCode.unknownTopicId.rawValue
                            return partition
                        }
                        if let injected {
                            partition.errorCode = injected.rawValue
                            return partition
                        }
                        let key = TopicPartition(topic: topic.name, partition: data.index)
                        guard var bytes = data.records, let batch = try? RecordBatch(bytes),
                              state.partitions[topic.name]?.indices.contains(Int(data.index)) == true else {
                            partition.errorCode = ErrorCode.corruptMessage.rawValue
                            return partition
                        }
                        if let refused = state.refuseValuesContaining,
                           let records = try? batch.records(),
                           records.contains(where: { String(buffer: $0.value ?? ByteBuffer()).contains(refused) }) {
                            partition.errorCode = ErrorCode.messageTooLarge.rawValue
                            return partition
                        }
                        if batch.producerId >= 0 {
                            let expected = state.expectedSequence[key] ?? 0
                            if batch.baseSequence < expected {
                                partition.errorCode = ErrorCode.duplicateSequenceNumber.rawValue
                                return partition
                            }
                            if batch.baseSequence > expected {
                                partition.errorCode = ErrorCode.outOfOrderSequenceNumber.rawValue
                                return partition
                            }
                            state.expectedSequence[key] = expected + batch.recordsCount
                        }
                        let base = state.nextOffsets[key] ?? 0
                        bytes.setInteger(base, at: bytes.readerIndex)
                        state.partitions[topic.name]?[Int(data.index)].append(bytes)
                        state.nextOffsets[key] = base + Int64(batch.recordsCount)
                        state.sequencesSeen[key, default: []].append(batch.baseSequence)
                        partition.baseOffset = base
                        return partition
                    }
                    return result
                }
                return response
            }
        case .fetch:
            guard let request = try? FetchRequest(from: &body, version: version) else { return nil }
            return state.withLock { state in
                state.fetchVersions.append(version)
                var response = FetchResponse()
                response.responses = request.topics.map { requested in
                    var topic = requested
                    if version >= 13 { topic.topic = state.topicIds.first { $0.value == topic.topicId }?.key ?? "" }
                    var result = FetchResponse.FetchableTopicResponse()
                    result.topic = topic.topic
                    result.topicId = topic.topicId
                    result.partitions = topic.partitions.map { wanted in
                        var data = FetchResponse.PartitionData()
                        data.partitionIndex = wanted.partition
                        if topic.topic.isEmpty {
                            data.errorCode = ErrorCode.unknownTopicId.rawValue
                            return data
                        }
                        let key = TopicPartition(topic: topic.topic, partition: wanted.partition)
                        data.highWatermark = state.nextOffsets[key] ?? 0
                        data.lastStableOffset = data.highWatermark
                        data.logStartOffset = 0
                        var out = ByteBuffer()
                        for var batch in state.partitions[topic.topic]?[Int(wanted.partition)] ?? []
                        where (try? RecordBatch(batch))?.lastOffset ?? -1 >= wanted.fetchOffset {
                            out.writeBuffer(&batch)
                        }
                        data.records = out
                        return data
                    }
                    return result
                }
                return response
            }
        case .listOffsets:
            guard let request = try? ListOffsetsRequest(from: &body, version: version) else { return nil }
            return state.withLock { state in
                var response = ListOffsetsResponse()
                response.topics = request.topics.map { topic in
                    var result = ListOffsetsResponse.ListOffsetsTopicResponse()
                    result.name = topic.name
                    result.partitions = topic.partitions.map { wanted in
                        var partition = ListOffsetsResponse.ListOffsetsPartitionResponse()
                        partition.partitionIndex = wanted.partitionIndex
                        let end = state.nextOffsets[TopicPartition(topic: topic.name, partition: wanted.partitionIndex)] ?? 0
                        partition.offset = wanted.timestamp == -2 ? 0 : end
                        return partition
                    }
                    return result
                }
                return response
            }
        default:
            return handleGroup(header, &body, state: state)
        }
    }

    private static func handleGroup(_ header: RequestHeader, _ body: inout ByteBuffer, state: Store)
        -> (any KafkaMessage)? {
        let version = header.apiVersion
        switch ApiKey(rawValue: header.apiKey) {
        case .findCoordinator:
            guard let request = try? FindCoordinatorRequest(from: &body, version: version) else { return nil }
            let port = state.withLock { Int32($0.port) }
            var response = FindCoordinatorResponse()
            if version >= 4 {
                response.coordinators = request.coordinatorKeys.map { key in
                    var coordinator = FindCoordinatorResponse.Coordinator()
                    coordinator.key = key
                    coordinator.nodeId = 1
                    coordinator.host = "127.0.0.1"
                    coordinator.port = port
                    return coordinator
                }
            } else {
                response.nodeId = 1
                response.host = "127.0.0.1"
                response.port = port
            }
            return response
        case .joinGroup:
            guard let request = try? JoinGroupRequest(from: &body, version: version) else { return nil }
            var response = JoinGroupResponse()
            if request.memberId.isEmpty && version >= 4 {
                response.errorCode = ErrorCode.memberIdRequired.rawValue
                response.memberId = "member-1"
                return response
            }
            state.withLock { $0.joins += 1 }
            response.memberId = request.memberId
            response.leader = request.memberId
            response.generationId = 1
            response.protocolName = request.protocols.first?.name
            var member = JoinGroupResponse.JoinGroupResponseMember()
            member.memberId = request.memberId
            member.metadata = request.protocols.first?.metadata ?? ByteBuffer()
            response.members = [member]
            return response
        case .syncGroup:
            guard let request = try? SyncGroupRequest(from: &body, version: version) else { return nil }
            var response = SyncGroupResponse()
            let mine = request.assignments.first { $0.memberId == request.memberId }?.assignment ?? ByteBuffer()
            state.withLock { $0.assignments[request.groupId] = mine }
            response.assignment = mine
            return response
        case .heartbeat:
            return HeartbeatResponse()
        case .leaveGroup:
            state.withLock { $0.leaves += 1 }
            return LeaveGroupResponse()
        case .offsetCommit:
            guard let request = try? OffsetCommitRequest(from: &body, version: version) else { return nil }
            state.withLock { state in
                for topic in request.topics {
                    for partition in topic.partitions {
                        state.committed[request.groupId, default: [:]][
                            TopicPartition(topic: topic.name, partition: partition.partitionIndex)] = partition.committedOffset
                    }
                }
            }
            var response = OffsetCommitResponse()
            response.topics = request.topics.map { topic in
                var result = OffsetCommitResponse.OffsetCommitResponseTopic()
                result.name = topic.name
                result.partitions = topic.partitions.map { partition in
                    var entry = OffsetCommitResponse.OffsetCommitResponsePartition()
                    entry.partitionIndex = partition.partitionIndex
                    return entry
                }
                return result
            }
            return response
        case .offsetFetch:
            guard let request = try? OffsetFetchRequest(from: &body, version: version), version >= 8 else { return nil }
            var response = OffsetFetchResponse()
            response.groups = request.groups.map { group in
                let committed = state.withLock { $0.committed[group.groupId] ?? [:] }
                var result = OffsetFetchResponse.OffsetFetchResponseGroup()
                result.groupId = group.groupId
                let byTopic = Dictionary(grouping: committed, by: { $0.key.topic })
                result.topics = byTopic.map { topic, entries in
                    var item = OffsetFetchResponse.OffsetFetchResponseTopics()
                    item.name = topic
                    item.partitions = entries.map { entry in
                        var partition = OffsetFetchResponse.OffsetFetchResponsePartitions()
                        partition.partitionIndex = entry.key.partition
                        partition.committedOffset = entry.value
                        return partition
                    }
                    return item
                }
                return result
            }
            return response
        default:
            return nil
        }
    }
}
