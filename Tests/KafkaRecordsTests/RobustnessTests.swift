// Hostile-input tests: varint limits, and randomly mutated batches (CRC fixed up so decoding goes past the
// checksum) that must decode or fail with a typed error, never crash or hang.
@testable import KafkaRecords
import NIOCore
import Testing

@Suite struct RobustnessTests {
    @Test(arguments: [Int32.min, -1, 0, 1, 63, 64, -65, 8_191, Int32.max])
    func varintsRoundTripAtTheirLimits(value: Int32) {
        var buffer = ByteBuffer()
        let written = buffer.writeVarint(value)
        #expect(written == Varint.size(value))
        #expect(buffer.readVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [Int64.min, -1, 0, 1, 1_700_000_000_000, Int64.max])
    func varlongsRoundTripAtTheirLimits(value: Int64) {
        var buffer = ByteBuffer()
        let written = buffer.writeVarlong(value)
        #expect(written == Varint.size(value))
        #expect(buffer.readVarlong() == value)
    }

    @Test func overlongAndTruncatedVarintsAreRejectedWithoutMovingTheReader() {
        var sixBytes = ByteBuffer(bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect(sixBytes.readVarint() == nil)
        #expect(sixBytes.readerIndex == 0)
        var tooWide = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) // 35 bits: more than an Int32
        #expect(tooWide.readVarint() == nil)
        var truncated = ByteBuffer(bytes: [0x80, 0x80])
        #expect(truncated.readVarlong() == nil)
        #expect(truncated.readerIndex == 0)
    }

    @Test(arguments: [CompressionCodec.none, .gzip, .snappy, .lz4, .zstd])
    func randomlyMutatedBatchesFailWithTypedErrorsOnly(codec: CompressionCodec) throws {
        let original = try Sample.batch(count: 6, compression: codec)
        var state: UInt64 = 0x5EED_0000 &+ UInt64(codec.rawValue)
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var decoded = 0
        var rejected = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + next() % 3) {
                // Mutate after the length field so the batch stays cut-able; fix the CRC so records get decoded.
                let offset = RecordBatchLayout.attributes + next() % (bytes.readableBytes - RecordBatchLayout.attributes)
                bytes.setInteger(UInt8(truncatingIfNeeded: next()), at: offset)
            }
            RecordBatchRewriterTests.fixCRC(&bytes)
            do {
                let batch = try RecordBatch(bytes)
                _ = try batch.records(maxDecompressedBytes: 1 << 20)
                _ = try RecordBatchValidator.validate(bytes, options: .init(recordValidation: .allBatches,
                                                                             maxDecompressedBytes: 1 << 20))
                decoded += 1
            } catch {
                #expect(error.kafkaErrorCode > 0)
                rejected += 1
            }
        }
        #expect(decoded + rejected == 400)
        #expect(rejected > 0)
    }

    @Test func batchesAreReadFromTheReaderIndexOfASharedBuffer() throws {
        var buffer = ByteBuffer(string: "prefix")
        var batch = try Sample.batch(count: 2)
        buffer.writeBuffer(&batch)
        buffer.moveReaderIndex(forwardBy: 6)
        let batches = try MemoryRecords(buffer).batches()
        #expect(batches.count == 1 && batches[0].isCRCValid)
        #expect(try batches[0].records().count == 2)
        #expect(try RecordBatchValidator.validate(buffer).recordCount == 2)
    }
}
