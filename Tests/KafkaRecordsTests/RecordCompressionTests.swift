@testable import KafkaRecords
import NIOCore
import Testing

@Suite struct RecordCompressionTests {
    static let codecs: [CompressionCodec] = [.gzip, .snappy, .lz4, .zstd]

    static func payload(size: Int, seed: UInt64 = 1) -> ByteBuffer {
        // Half-compressible: runs of a pseudo-random byte.
        var state = seed
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        while buffer.readableBytes < size {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let run = Int(state >> 60) + 1
            buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: state >> 33), count: Swift.min(run, size - buffer.readableBytes))
        }
        return buffer
    }

    private func roundTrip(_ input: ByteBuffer, _ codec: CompressionCodec, limit: Int = 1 << 30) throws -> ByteBuffer {
        var compressed = ByteBuffer()
        try RecordCompression.compress(input, codec: codec, into: &compressed)
        return try RecordCompression.decompress(compressed, codec: codec, maxOutputBytes: limit)
    }

    @Test(arguments: codecs, [0, 1, 1_000, 200_000])
    func compressThenDecompressReturnsTheInput(codec: CompressionCodec, size: Int) throws {
        let input = Self.payload(size: size)
        #expect(try roundTrip(input, codec) == input)
    }

    @Test(arguments: codecs)
    func builderAndViewRoundTripEveryCodecWithKeysValuesHeadersAndNulls(codec: CompressionCodec) throws {
        let bytes = try Sample.batch(count: 50, compression: codec, producerId: 3, producerEpoch: 1, baseSequence: 0)
        let batch = try RecordBatch(bytes)
        #expect(batch.compression == codec && batch.isCRCValid)
        let plain = try RecordBatch(Sample.batch(count: 50))
        #expect(batch.sizeInBytes < plain.sizeInBytes)
        let records = try batch.records()
        #expect(records == (try plain.records()))
        #expect(records[2].value == nil && records[4].headers[1].value == nil)
        let summary = try RecordBatchValidator.validate(bytes, options: .init(recordValidation: .compressedBatches))
        #expect(summary.recordCount == 50 && summary.hasCompressedBatches)
    }

    @Test(arguments: codecs)
    func compressedTransactionMarkerIsReadable(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder(compression: codec, producerId: 1, producerEpoch: 0, isTransactional: true,
                                         isControl: true)
        let marker = EndTransactionMarker(type: .abort, coordinatorEpoch: 4)
        builder.append(key: ControlRecordType.abort.encodedKey(), value: marker.encodedValue(), timestamp: 1)
        #expect(try RecordBatch(builder.build()).endTransactionMarker() == marker)
    }

    @Test(arguments: codecs)
    func decompressionBombsStopAtTheLimit(codec: CompressionCodec) throws {
        var zeros = ByteBuffer()
        zeros.writeRepeatingByte(0, count: 8 << 20)
        var compressed = ByteBuffer()
        try RecordCompression.compress(zeros, codec: codec, into: &compressed)
        #expect(compressed.readableBytes < 512 << 10)
        for limit in [0, 1 << 20, (8 << 20) - 1] {
            #expect(throws: RecordBatchError.decompressedSizeExceeded(codec: codec, limit: limit)) {
                try RecordCompression.decompress(compressed, codec: codec, maxOutputBytes: limit)
            }
        }
        let exact = try RecordCompression.decompress(compressed, codec: codec, maxOutputBytes: 8 << 20)
        #expect(exact.readableBytes == 8 << 20)
        #expect(RecordBatchError.decompressedSizeExceeded(codec: codec, limit: 1).kafkaErrorCode == 2)
    }

    @Test(arguments: codecs)
    func batchRecordsHonourTheDecompressionLimit(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder(compression: codec)
        var big = ByteBuffer()
        big.writeRepeatingByte(0x41, count: 1 << 20)
        builder.append(key: nil, value: big, timestamp: 1)
        let batch = try RecordBatch(builder.build())
        #expect(throws: RecordBatchError.decompressedSizeExceeded(codec: codec, limit: 64 << 10)) {
            try batch.records(maxDecompressedBytes: 64 << 10)
        }
        let options = RecordBatchValidator.Options(recordValidation: .compressedBatches, maxDecompressedBytes: 64 << 10)
        #expect(throws: RecordBatchError.self) { try RecordBatchValidator.validate(batch.bytes, options: options) }
        #expect(try batch.records().first?.value?.readableBytes == 1 << 20)
    }

    @Test(arguments: codecs)
    func garbageAndTruncatedInputIsATypedError(codec: CompressionCodec) throws {
        var compressed = ByteBuffer()
        try RecordCompression.compress(Self.payload(size: 50_000), codec: codec, into: &compressed)
        for length in [1, 7, compressed.readableBytes / 2, compressed.readableBytes - 1] {
            let cut = compressed.getSlice(at: 0, length: length)!
            #expect(throws: RecordBatchError.self, "\(codec) cut to \(length)") {
                try RecordCompression.decompress(cut, codec: codec, maxOutputBytes: 1 << 24)
            }
        }
        let garbage = ByteBuffer(bytes: (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 97) })
        #expect(throws: RecordBatchError.self) {
            try RecordCompression.decompress(garbage, codec: codec, maxOutputBytes: 1 << 24)
        }
    }

    @Test func snappyIsWrittenInTheXerialFraming() throws {
        var compressed = ByteBuffer()
        try RecordCompression.compress(Self.payload(size: 100_000), codec: .snappy, into: &compressed)
        #expect(compressed.getBytes(at: 0, length: 16) == SnappyCodec.xerialMagic + [0, 0, 0, 1, 0, 0, 0, 1])
        // 100 000 bytes in 32 KiB blocks: four length-prefixed blocks.
        var blocks = 0
        var cursor = compressed
        cursor.moveReaderIndex(forwardBy: 16)
        while let length = cursor.readInteger(as: Int32.self) {
            cursor.moveReaderIndex(forwardBy: Int(length))
            blocks += 1
        }
        #expect(blocks == 4)
    }

    @Test func handEncodedXerialAndRawSnappyBlocksAreAccepted() throws {
        // Raw snappy from the format description: varint length 12, literal "abc", copy(len 9, offset 3).
        let raw: [UInt8] = [0x0C, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03]
        let expected = Array("abcabcabcabc".utf8)
        let fromRaw = try RecordCompression.decompress(ByteBuffer(bytes: raw), codec: .snappy, maxOutputBytes: 100)
        #expect(Sample.bytes(fromRaw) == expected)
        let xerial = SnappyCodec.xerialMagic + [0, 0, 0, 1, 0, 0, 0, 1] + [0, 0, 0, 7] + raw + [0, 0, 0, 7] + raw
        let fromXerial = try RecordCompression.decompress(ByteBuffer(bytes: xerial), codec: .snappy, maxOutputBytes: 100)
        #expect(Sample.bytes(fromXerial) == expected + expected)
        #expect(throws: RecordBatchError.decompressedSizeExceeded(codec: .snappy, limit: 20)) {
            try RecordCompression.decompress(ByteBuffer(bytes: xerial), codec: .snappy, maxOutputBytes: 20)
        }
        // A raw block written by our own encoder is read back too.
        var ours = ByteBuffer()
        try SnappyCodec.compressRaw(ByteBuffer(bytes: CompressionFixtures.text), into: &ours)
        #expect(Sample.bytes(try RecordCompression.decompress(ours, codec: .snappy, maxOutputBytes: 1 << 20))
            == CompressionFixtures.text)
    }

    @Test(arguments: [(CompressionCodec.lz4, CompressionFixtures.lz4CLI), (.zstd, CompressionFixtures.zstdCLI),
                      (.gzip, CompressionFixtures.gzipTwoMembers)])
    func framesFromOtherWritersDecompress(codec: CompressionCodec, fixture: [UInt8]) throws {
        let output = try RecordCompression.decompress(ByteBuffer(bytes: fixture), codec: codec, maxOutputBytes: 1 << 20)
        #expect(Sample.bytes(output) == CompressionFixtures.text)
        #expect(throws: RecordBatchError.decompressedSizeExceeded(codec: codec, limit: 4_096)) {
            try RecordCompression.decompress(ByteBuffer(bytes: fixture), codec: codec, maxOutputBytes: 4_096)
        }
    }

    @Test func lz4FramesUseIndependentSixtyFourKiBBlocksLikeTheJavaClient() throws {
        var compressed = ByteBuffer()
        try RecordCompression.compress(Self.payload(size: 1_000), codec: .lz4, into: &compressed)
        #expect(compressed.getBytes(at: 0, length: 4) == [0x04, 0x22, 0x4D, 0x18])
        let flags = compressed.getInteger(at: 4, as: UInt8.self) ?? 0
        #expect(flags & 0xC0 == 0x40) // version 01
        #expect(flags & 0x20 != 0) // block independence
        #expect(compressed.getInteger(at: 5, as: UInt8.self) == 0x40) // BD: 64 KiB
    }

    @Test func gzipOutputIsAPlainGzipStream() throws {
        var compressed = ByteBuffer()
        try RecordCompression.compress(Self.payload(size: 1_000), codec: .gzip, into: &compressed)
        #expect(compressed.getBytes(at: 0, length: 3) == [0x1F, 0x8B, 0x08])
    }
}
