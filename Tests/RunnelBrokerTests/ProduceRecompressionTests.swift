// Produce with a topic `compression.type`: stored batches carry the topic's codec (or the producer's
// with `producer`), recompressed batches are checked against max.message.bytes and record by record.
import Foundation
import KafkaProtocol
import KafkaRecords
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import RunnelBroker

@Suite struct ProduceRecompressionTests {
    /// A broker (storage open, not listening) on a temporary log dir, with one event loop to run handlers on.
    final class Harness: OfflineBroker {
        init() throws { try super.init(prefix: "runnel-recompress-") }

        func createTopic(_ name: String, configs: [String: String]) async throws {
            _ = try await broker.core.createTopic(name: name, partitions: 1, replicationFactor: 1, configs: configs,
                                             logger: Logger(label: "test"))
        }

        /// Produces `records` to partition 0 of `topic` (acks=-1, version 9) and returns its partition answer.
        func produce(_ records: ByteBuffer, to topic: String) async throws -> ProduceResponse.PartitionProduceResponse {
            let response = try await submit(records, to: topic).get()
            return try #require(response.responses.first?.partitionResponses.first)
        }

        /// Hands a produce of `records` to the handler now; the future completes when it is answered.
        func submit(_ records: ByteBuffer, to topic: String) -> EventLoopFuture<ProduceResponse> {
            var partition = ProduceRequest.PartitionProduceData()
            partition.index = 0
            partition.records = records
            var topicData = ProduceRequest.TopicProduceData()
            topicData.name = topic
            topicData.partitionData = [partition]
            var request = ProduceRequest()
            request.acks = -1
            request.timeoutMs = 5_000
            request.topicData = [topicData]
            return broker.core.produce(request, self.request(0, version: 9))
        }

        /// The batches stored in the first segment of partition 0 of `topic`. On the direct write path
        /// (log.io.mode=auto on ext4/XFS) the active segment's file ends in a zero-padded block: the
        /// batches end where a zero length field starts.
        func storedBatches(of topic: String) throws -> [RecordBatch] {
            let path = directory + "/\(topic)-0/00000000000000000000.log"
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var end = 0
            while end + 12 <= data.count {
                let length = data[(end + 8)..<(end + 12)].reduce(0) { $0 << 8 | Int($1) }
                guard length > 0, end + 12 + length <= data.count else { break }
                end += 12 + length
            }
            return try MemoryRecords(ByteBuffer(bytes: data.prefix(end))).batches()
        }
    }

    static func batch(_ codec: CompressionCodec, count: Int = 10, valueSize: Int = 40) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: codec, producerId: -1)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for index in 0..<count {
            builder.append(key: ByteBuffer(string: "k\(index)"),
                           value: ByteBuffer(string: String(repeating: "v\(index % 10)", count: valueSize / 2)),
                           headers: [RecordHeader(key: "h", value: nil)], timestamp: now + Int64(index))
        }
        return try builder.build()
    }

    @Test(arguments: [("zstd", CompressionCodec.zstd), ("gzip", .gzip), ("uncompressed", .none), ("lz4", .lz4),
                      ("snappy", .snappy)])
    func producedBatchesAreStoredWithTheTopicCodec(name: String, codec: CompressionCodec) async throws {
        let harness = try Harness()
        try await harness.createTopic("t", configs: ["compression.type": name, "compression.gzip.level": "9"])
        let sent: [CompressionCodec] = [.none, .lz4, .gzip, .zstd, .snappy]
        for (index, source) in sent.enumerated() {
            let answer = try await harness.produce(try Self.batch(source), to: "t")
            #expect(answer.errorCode == 0)
            #expect(answer.baseOffset == Int64(index * 10))
        }
        let stored = try harness.storedBatches(of: "t")
        #expect(stored.map(\.compression) == Array(repeating: codec, count: sent.count))
        #expect(stored.allSatisfy { $0.isCRCValid })
        #expect(stored.map(\.baseOffset) == [0, 10, 20, 30, 40])
        let expected = try RecordBatch(Self.batch(.none)).records().map { [$0.key, $0.value] }
        for batch in stored { #expect(try batch.records().map { [$0.key, $0.value] } == expected) }
        #expect(try stored[1].records()[3].headers == [RecordHeader(key: "h", value: nil)])
    }

    @Test func producerKeepsTheCodecAsSentByteForByte() async throws {
        let harness = try Harness()
        try await harness.createTopic("p", configs: [:])
        let lz4 = try Self.batch(.lz4)
        #expect(try await harness.produce(lz4, to: "p").errorCode == 0)
        #expect(try await harness.produce(try Self.batch(.none), to: "p").errorCode == 0)
        let stored = try harness.storedBatches(of: "p")
        #expect(stored.map(\.compression) == [.lz4, CompressionCodec.none])
        #expect(stored[0].recordsSection == (try RecordBatch(lz4)).recordsSection)
    }

    @Test func aLogAppendTimeTopicStampsTheRecompressedBatch() async throws {
        let harness = try Harness()
        try await harness.createTopic("l", configs: ["compression.type": "zstd", "message.timestamp.type": "LogAppendTime"])
        let answer = try await harness.produce(try Self.batch(.lz4), to: "l")
        #expect(answer.errorCode == 0 && answer.logAppendTimeMs > 0)
        let stored = try #require(try harness.storedBatches(of: "l").first)
        #expect(stored.compression == .zstd && stored.timestampType == .logAppendTime && stored.isCRCValid)
        #expect(stored.maxTimestamp == answer.logAppendTimeMs)
        #expect(try stored.records().allSatisfy { $0.timestamp == answer.logAppendTimeMs })
    }

    @Test func aBatchThatGrowsPastMaxMessageBytesWhenRecompressedIsMessageTooLarge() async throws {
        let harness = try Harness()
        let zstd = try Self.batch(.zstd, count: 200, valueSize: 400)
        let size = try RecordBatch(zstd).sizeInBytes
        try await harness.createTopic("m", configs: ["compression.type": "uncompressed", "max.message.bytes": "\(size + 100)"])
        let answer = try await harness.produce(zstd, to: "m")
        #expect(answer.errorCode == ErrorCode.messageTooLarge.rawValue)
        #expect(answer.errorMessage?.contains("max.message.bytes") == true)
        #expect(try await harness.produce(try Self.batch(.none), to: "m").errorCode == 0)
    }

    @Test func recordsAreCheckedWhenRecompressingIntoACompactedTopic() async throws {
        let harness = try Harness()
        try await harness.createTopic("c", configs: ["compression.type": "gzip", "cleanup.policy": "compact"])
        var builder = RecordBatchBuilder(compression: .snappy)
        builder.append(key: nil, value: ByteBuffer(string: "no key"), timestamp: Int64(Date().timeIntervalSince1970 * 1000))
        let answer = try await harness.produce(try builder.build(), to: "c")
        #expect(answer.errorCode == ErrorCode.invalidRecord.rawValue)
    }

    @Test func pipelinedIdempotentAppendsToARecompressingTopicKeepTheirOrder() async throws {
        let harness = try Harness()
        try await harness.createTopic("ordered", configs: ["compression.type": "zstd"])
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let batches = try (0..<40).map { index -> ByteBuffer in
            var builder = RecordBatchBuilder(compression: .none, producerId: 7, producerEpoch: 0,
                                             baseSequence: Int32(index * 5))
            for record in 0..<5 {
                builder.append(key: ByteBuffer(string: "k"), value: ByteBuffer(string: "\(index)-\(record)"),
                               timestamp: now)
            }
            return try builder.build()
        }
        // All requests are in flight at once, as a client pipelines them on one connection; each
        // runs through the partition's append queue and must get the next offsets, not a sequence error.
        let futures = batches.map { harness.submit($0, to: "ordered") }
        for (index, future) in futures.enumerated() {
            let answer = try await future.get().responses.first?.partitionResponses.first
            #expect(answer?.errorCode == 0, "batch \(index)")
            #expect(answer?.baseOffset == Int64(index * 5), "batch \(index)")
        }
    }
}
