// Decoding fetched partition data: positions inside batches, control batches, aborted transactions, CRCs.
import KafkaProtocol
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelClient

@Suite struct FetchedBatchDecoderTests {
    let topicPartition = TopicPartition(topic: "t", partition: 0)

    func batch(baseOffset: Int64, values: [String], producerId: Int64 = -1, transactional: Bool = false,
               compression: CompressionCodec = .none) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: compression, baseOffset: baseOffset, producerId: producerId,
                                         producerEpoch: producerId >= 0 ? 0 : -1,
                                         baseSequence: producerId >= 0 ? 0 : -1, isTransactional: transactional)
        for (index, value) in values.enumerated() {
            builder.append(key: "k\(index)", value: value, timestamp: 1_000 + Int64(index))
        }
        return try builder.build()
    }

    func decoder(_ isolation: IsolationLevel = .readUncommitted) -> FetchedBatchDecoder {
        FetchedBatchDecoder(topicPartition: topicPartition, isolationLevel: isolation, checkCRCs: true)
    }

    @Test func recordsBeforeThePositionAreSkippedEvenInsideABatch() throws {
        var data = try batch(baseOffset: 10, values: ["a", "b", "c"])
        var second = try batch(baseOffset: 13, values: ["d"])
        data.writeBuffer(&second)
        let output = try decoder().decode(data, position: 11, abortedTransactions: [])
        #expect(output.records.map(\.offset) == [11, 12, 13])
        #expect(output.records.map { String(buffer: $0.value ?? ByteBuffer()) } == ["b", "c", "d"])
        #expect(output.nextOffset == 14)
    }

    @Test(arguments: [CompressionCodec.none, .gzip, .snappy, .lz4, .zstd])
    func compressedBatchesDecode(codec: CompressionCodec) throws {
        let data = try batch(baseOffset: 0, values: ["x", "y"], compression: codec)
        let output = try decoder().decode(data, position: 0, abortedTransactions: [])
        #expect(output.records.map { String(buffer: $0.key ?? ByteBuffer()) } == ["k0", "k1"])
        #expect(output.records.map(\.timestamp) == [1_000, 1_001])
    }

    @Test func partialTrailingBatchIsLeftForTheNextFetch() throws {
        var data = try batch(baseOffset: 0, values: ["a"])
        let second = try batch(baseOffset: 1, values: ["b"])
        data.writeBytes(second.readableBytesView.prefix(30))
        let output = try decoder().decode(data, position: 0, abortedTransactions: [])
        #expect(output.records.count == 1)
        #expect(output.nextOffset == 1)
    }

    @Test func corruptedBatchFailsTheCRCCheck() throws {
        var data = try batch(baseOffset: 0, values: ["hello"])
        let last = data.writerIndex - 1
        data.setInteger(data.getInteger(at: last, as: UInt8.self)! ^ 0xff, at: last)
        #expect(throws: KafkaClientError.self) { try decoder().decode(data, position: 0, abortedTransactions: []) }
    }

    @Test func readCommittedSkipsAbortedTransactionsAndControlBatches() throws {
        var data = try batch(baseOffset: 0, values: ["aborted-1", "aborted-2"], producerId: 7, transactional: true)
        var marker = RecordBatchBuilder.endTransactionMarker(EndTransactionMarker(type: .abort, coordinatorEpoch: 0),
                                                             producerId: 7, producerEpoch: 0, timestamp: 5, baseOffset: 2)
        data.writeBuffer(&marker)
        var committed = try batch(baseOffset: 3, values: ["kept"], producerId: 8, transactional: true)
        data.writeBuffer(&committed)
        let aborted = [(producerId: Int64(7), firstOffset: Int64(0))]
        let committedView = try decoder(.readCommitted).decode(data, position: 0, abortedTransactions: aborted)
        #expect(committedView.records.map { String(buffer: $0.value ?? ByteBuffer()) } == ["kept"])
        #expect(committedView.nextOffset == 4)
        let uncommittedView = try decoder().decode(data, position: 0, abortedTransactions: aborted)
        #expect(uncommittedView.records.count == 3)
    }
}
