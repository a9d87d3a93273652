// Cross-checks with kafka-python's independent v2 implementation (see Tests/KafkaRecordsInterop/kafka_python_interop.py):
// its batches decode here, and the batches built here (RunnelGoldenBatches) decode there.
import KafkaRecords
import NIOCore
import Testing

@Suite struct KafkaPythonInteropTests {
    struct Expected {
        var key: String?
        var value: String?
        var headers: [(key: String, value: String?)]
        var timestamp: Int64
    }

    /// The record set both sides use; mirrors `expected_records` in the script.
    static let expected: [Expected] = (0..<4).map { (index: Int) -> Expected in
        let headers: [(key: String, value: String?)] = index % 2 == 0 ? [("trace", "t-\(index)"), ("empty", nil)] : []
        return Expected(key: index == 3 ? nil : "key-\(index)",
                        value: index == 1 ? nil : String(repeating: "value-\(index);", count: 40),
                        headers: headers, timestamp: 1_700_000_000_000 + Int64(index) * 1000)
    }

    static func expectMatches(_ records: [Record], baseOffset: Int64 = 0) {
        #expect(records.count == expected.count)
        for (record, want) in zip(records, expected) {
            #expect(Sample.string(record.key) == want.key)
            #expect(Sample.string(record.value) == want.value)
            #expect(record.timestamp == want.timestamp)
            #expect(record.headers.map(\.key) == want.headers.map(\.key))
            #expect(record.headers.map { Sample.string($0.value) } == want.headers.map(\.value))
        }
        #expect(records.map(\.offset) == (0..<Int64(expected.count)).map { $0 + baseOffset })
    }

    /// The golden batches: what `RecordBatchBuilder` writes for the shared record set.
    static func build(_ codec: CompressionCodec) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: codec, producerId: 1234, producerEpoch: 5, baseSequence: 42,
                                         isTransactional: true)
        for record in expected {
            builder.append(key: record.key, value: record.value,
                           headers: record.headers.map { RecordHeader(key: $0.key, value: $0.value.map { ByteBuffer(string: $0) }) },
                           timestamp: record.timestamp)
        }
        return try builder.build()
    }

    static let commitMarker = RecordBatchBuilder.endTransactionMarker(
        EndTransactionMarker(type: .commit, coordinatorEpoch: 7), producerId: 1234, producerEpoch: 5,
        timestamp: 1_700_000_005_000, baseOffset: 4)

    static let pythonBatches: [(CompressionCodec, [UInt8])] = [
        (.none, KafkaPythonFixtures.uncompressed), (.gzip, KafkaPythonFixtures.gzip),
        (.snappy, KafkaPythonFixtures.snappy), (.lz4, KafkaPythonFixtures.lz4), (.zstd, KafkaPythonFixtures.zstd),
    ]

    @Test(arguments: pythonBatches)
    func batchesWrittenByKafkaPythonDecodeAndValidate(codec: CompressionCodec, bytes: [UInt8]) throws {
        let buffer = ByteBuffer(bytes: bytes)
        let summary = try RecordBatchValidator.validate(buffer, options: .init(recordValidation: .allBatches))
        #expect(summary.recordCount == 4 && summary.maxTimestamp == 1_700_000_003_000)
        let batch = try RecordBatch(buffer)
        #expect(batch.compression == codec && batch.isCRCValid)
        #expect(batch.producerId == 1234 && batch.producerEpoch == 5 && batch.baseSequence == 42)
        Self.expectMatches(try batch.records())
    }

    @Test func uncompressedGoldenBatchIsByteForByteWhatTheBuilderWrites() throws {
        #expect(Sample.bytes(try Self.build(.none)) == RunnelGoldenBatches.uncompressed)
        #expect(Sample.bytes(Self.commitMarker) == RunnelGoldenBatches.commitMarker)
    }

    @Test func uncompressedBatchMatchesKafkaPythonExceptForFlagsItSetsDifferently() throws {
        // Same records, same producer state; kafka-python writes leader epoch 0 and is not transactional here.
        var ours = try Self.build(.none)
        ours.setInteger(Int32(0), at: RecordBatchLayout.partitionLeaderEpoch)
        ours.setInteger(Int16(0), at: RecordBatchLayout.attributes)
        RecordBatchRewriterTests.fixCRC(&ours)
        #expect(Sample.bytes(ours) == KafkaPythonFixtures.uncompressed)
    }

    @Test(arguments: [(CompressionCodec.gzip, RunnelGoldenBatches.gzip), (.snappy, RunnelGoldenBatches.snappy),
                      (.lz4, RunnelGoldenBatches.lz4), (.zstd, RunnelGoldenBatches.zstd)])
    func compressedGoldenBatchesStillDecode(codec: CompressionCodec, bytes: [UInt8]) throws {
        let batch = try RecordBatch(ByteBuffer(bytes: bytes))
        #expect(batch.compression == codec && batch.isCRCValid)
        Self.expectMatches(try batch.records())
    }
}
