// The zero-copy FetchResponse writer must produce exactly the bytes of the generated FetchResponse
// encoder (plus the response header) for every Fetch version the broker serves.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelBroker

@Suite struct FetchResponseWriterTests {
    static let topicId = KafkaUUID(mostSignificantBits: 0x0123_4567_89AB_CDEF, leastSignificantBits: 0x0FED_CBA9_8765_4321)

    static func partitions(version: Int16) -> [FetchedPartition] {
        var withData = FetchedPartition(key: FetchPartitionKey(topic: "orders", partition: 0), topicId: topicId)
        withData.highWatermark = 42
        withData.lastStableOffset = 40
        withData.logStartOffset = 3
        withData.records = .buffers([ByteBuffer(bytes: Array(repeating: 0xAB, count: 300))])
        withData.abortedTransactions = [AbortedTransactionRange(producerId: 7, firstOffset: 11)]
        var empty = FetchedPartition(key: FetchPartitionKey(topic: "orders", partition: 2), topicId: topicId)
        empty.highWatermark = 5
        empty.lastStableOffset = 5
        empty.logStartOffset = 0
        var failed = FetchedPartition(key: FetchPartitionKey(topic: "payments", partition: 1), topicId: .zero)
        failed.errorCode = .offsetOutOfRange
        guard version >= 12 else { return [withData, empty, failed] }
        // A follower told where its log diverged (KIP-320, a tagged field from v12).
        var diverged = FetchedPartition(key: FetchPartitionKey(topic: "payments", partition: 4), topicId: .zero)
        diverged.highWatermark = 90
        diverged.lastStableOffset = 90
        diverged.logStartOffset = 0
        diverged.divergingEpoch = (epoch: 3, endOffset: 77)
        return [withData, empty, failed, diverged]
    }

    static func expected(version: Int16, partitions: [FetchedPartition], sessionId: Int32,
                         errorCode: ErrorCode) throws -> ByteBuffer {
        var response = FetchResponse()
        response.throttleTimeMs = 0
        response.errorCode = errorCode.rawValue
        response.sessionId = sessionId
        var topics: [FetchResponse.FetchableTopicResponse] = []
        var lastTopic: String?
        for partition in partitions {
            if lastTopic != partition.key.topic {
                lastTopic = partition.key.topic
                var topic = FetchResponse.FetchableTopicResponse()
                topic.topic = version <= 12 ? partition.key.topic : ""
                topic.topicId = version >= 13 ? partition.topicId : .zero
                topics.append(topic)
            }
            var data = FetchResponse.PartitionData()
            data.partitionIndex = partition.key.partition
            data.errorCode = partition.errorCode.rawValue
            data.highWatermark = partition.highWatermark
            data.lastStableOffset = partition.lastStableOffset
            data.logStartOffset = version >= 5 ? partition.logStartOffset : -1
            data.abortedTransactions = partition.abortedTransactions.map { list in
                list.map { range in
                    var aborted = FetchResponse.AbortedTransaction()
                    aborted.producerId = range.producerId
                    aborted.firstOffset = range.firstOffset
                    return aborted
                }
            }
            data.preferredReadReplica = -1
            if let diverging = partition.divergingEpoch {
                data.divergingEpoch.epoch = diverging.epoch
                data.divergingEpoch.endOffset = diverging.endOffset
            }
            if case .buffers(let parts) = partition.records { var joined = ByteBuffer(); for var part in parts { joined.writeBuffer(&part) }; data.records = joined } else { data.records = ByteBuffer() }
            topics[topics.count - 1].partitions.append(data)
        }
        response.responses = topics
        var out = ByteBuffer()
        ResponseHeader(correlationId: 99).encode(
            to: &out, headerVersion: ResponseHeader.headerVersion(apiKey: ApiKey.fetch.rawValue, apiVersion: version))
        try response.encode(to: &out, version: version)
        return out
    }

    @Test(arguments: Array(Int16(4)...Int16(18)))
    func writerMatchesTheGeneratedEncoder(version: Int16) throws {
        let partitions = Self.partitions(version: version)
        let sessionId: Int32 = version >= 7 ? 1234 : 0
        var writer = FetchResponseWriter(version: version, allocator: ByteBufferAllocator())
        let payload = writer.encode(correlationId: 99, errorCode: .none, sessionId: sessionId, partitions: partitions)
        guard case .parts(let parts) = payload else {
            Issue.record("no parts")
            return
        }
        var written = ByteBuffer()
        for part in parts {
            guard case .buffer(var bytes) = part else {
                Issue.record("unexpected file part for in-memory records")
                return
            }
            written.writeBuffer(&bytes)
        }
        let expected = try Self.expected(version: version, partitions: partitions, sessionId: sessionId, errorCode: .none)
        #expect(written == expected, "v\(version): \(written.hexDump(format: .plain(maxBytes: 400))) vs \(expected.hexDump(format: .plain(maxBytes: 400)))")
    }

    /// To a follower the writer adds Runnel's top-level tag saying it reads the durable end offset
    /// (decision 0028): the generated decoder keeps it as an unknown tagged field, and a version without
    /// tagged fields carries nothing extra.
    @Test(arguments: [Int16(11), 12, 16, 18])
    func aFollowersAnswerCarriesTheDurableEndOffsetTag(version: Int16) throws {
        var partitions = Self.partitions(version: version)
        partitions[0].leaderAppendedEndOffset = 4_242
        if version >= 12 { partitions[3].leaderAppendedEndOffset = 91 }  // beside DivergingEpoch (tag 0)
        var writer = FetchResponseWriter(version: version, allocator: ByteBufferAllocator())
        let payload = writer.encode(correlationId: 99, errorCode: .none, sessionId: 0,
                                    partitions: partitions, honoursDurableEndOffset: true)
        guard case .parts(let parts) = payload else {
            Issue.record("no parts")
            return
        }
        var written = ByteBuffer()
        for part in parts {
            guard case .buffer(var bytes) = part else { return }
            written.writeBuffer(&bytes)
        }
        _ = try ResponseHeader(from: &written, headerVersion: ResponseHeader.headerVersion(apiKey: ApiKey.fetch.rawValue, apiVersion: version))
        let decoded = try FetchResponse(from: &written, version: version)
        #expect(written.readableBytes == 0)
        #expect(ReplicationTags.honoursDurableEndOffset(decoded.unknownTaggedFields) == (version >= 12))
        let answers = decoded.responses.flatMap(\.partitions)
        #expect(answers.count == partitions.count)
        #expect(ReplicationTags.leaderAppendedEndOffset(in: answers[0].unknownTaggedFields) == (version >= 12 ? 4_242 : nil))
        #expect(answers[0].records?.readableBytes == 300)
        if version >= 12 {
            #expect(ReplicationTags.leaderAppendedEndOffset(in: answers[3].unknownTaggedFields) == 91)
            #expect(answers[3].divergingEpoch.epoch == 3 && answers[3].divergingEpoch.endOffset == 77)
        }
    }

    /// The follower's tag on a request partition survives encoding and decoding, and a malformed one
    /// (not eight bytes) is ignored rather than trusted.
    @Test func theDurableEndOffsetTagRoundTripsOnAFetchRequest() throws {
        var partition = FetchRequest.FetchPartition()
        partition.partition = 3
        partition.fetchOffset = 500
        partition.unknownTaggedFields = [ReplicationTags.durableEndOffsetField(420)]
        var topic = FetchRequest.FetchTopic()
        topic.topic = "orders"
        topic.partitions = [partition]
        var request = FetchRequest()
        request.replicaId = 2
        request.topics = [topic]
        var bytes = ByteBuffer()
        try request.encode(to: &bytes, version: 12)
        let decoded = try FetchRequest(from: &bytes, version: 12)
        let fields = try #require(decoded.topics.first?.partitions.first?.unknownTaggedFields)
        #expect(ReplicationTags.durableEndOffset(in: fields) == 420)
        #expect(ReplicationTags.durableEndOffset(in: [TaggedField(tag: ReplicationTags.durableEndOffset,
                                                                  data: ByteBuffer(bytes: [1, 2, 3]))]) == nil)
        #expect(ReplicationTags.durableEndOffset(in: []) == nil)
    }

    /// A follower fetches ahead of its fsyncs only while the leader had appended beyond the answer's last
    /// whole batch: not when the answer holds all it had (a producer waiting for this very answer's
    /// acknowledgement), nor without the tag (an older leader).
    @Test func aFollowerFetchesAheadOnlyWhileTheLeaderHasMore() {
        func batch(base: Int64, lastDelta: Int32, size: Int = 120) -> ByteBuffer {
            var b = ByteBuffer()
            b.writeInteger(base)
            b.writeInteger(Int32(size - 12))        // length: what follows it
            b.writeInteger(Int32(5))                // partition leader epoch
            b.writeInteger(UInt8(2))                // magic
            b.writeInteger(UInt32(0))               // crc (not checked here)
            b.writeInteger(Int16(0))                // attributes
            b.writeInteger(lastDelta)
            b.writeRepeatingByte(0, count: size - b.readableBytes)
            return b
        }
        func response(records: ByteBuffer?, leaderEnd: Int64?) -> FetchResponse {
            var answer = FetchResponse.PartitionData()
            answer.records = records
            if let leaderEnd {
                var data = ByteBuffer()
                data.writeInteger(leaderEnd)
                answer.unknownTaggedFields = [TaggedField(tag: ReplicationTags.leaderAppendedEndOffset, data: data)]
            }
            var topic = FetchResponse.FetchableTopicResponse()
            topic.partitions = [answer]
            var r = FetchResponse()
            r.responses = [topic]
            return r
        }
        var two = batch(base: 100, lastDelta: 9)
        var second = batch(base: 110, lastDelta: 9)
        two.writeBuffer(&second)
        #expect(ReplicaFetcher.leaderHasMore(response(records: two, leaderEnd: 150)))
        #expect(!ReplicaFetcher.leaderHasMore(response(records: two, leaderEnd: 120)), "the answer holds all it had")
        #expect(!ReplicaFetcher.leaderHasMore(response(records: two, leaderEnd: nil)), "an older leader says nothing")
        #expect(!ReplicaFetcher.leaderHasMore(response(records: ByteBuffer(), leaderEnd: 150)), "an empty answer")
        // A partial last batch (the answer cut at the byte limit) counts only the whole ones.
        var cut = batch(base: 100, lastDelta: 9)
        var partial = batch(base: 110, lastDelta: 9)
        cut.writeBuffer(&partial)
        cut.moveWriterIndex(to: cut.writerIndex - 20)
        #expect(ReplicaFetcher.leaderHasMore(response(records: cut, leaderEnd: 120)))
    }
}
