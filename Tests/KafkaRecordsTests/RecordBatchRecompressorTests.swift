// RecordBatchRecompressor: every codec pair round-trips, headers and CRC are right, bad input is typed.
@testable import KafkaRecords
import NIOCore
import Testing

@Suite struct RecordBatchRecompressorTests {
    static let pairs: [(CompressionCodec, CompressionCodec)] = CompressionCodec.allCases.flatMap { source in
        CompressionCodec.allCases.filter { $0 != source }.map { (source, $0) }
    }
    static let client = RecordBatchValidator.Options(origin: .client)

    @Test(arguments: pairs)
    func recompressingKeepsEveryRecordAndProducerFieldAndWritesAValidBatch(source: CompressionCodec,
                                                                           target: CompressionCodec) throws {
        let original = try RecordBatch(Sample.batch(count: 40, compression: source, producerId: 7, producerEpoch: 2,
                                                    baseSequence: 11, isTransactional: true))
        let rewritten = try RecordBatchRecompressor.recompress(original, to: target, options: Self.client)
        let batch = try RecordBatch(rewritten)
        #expect(batch.sizeInBytes == rewritten.readableBytes)
        #expect(batch.compression == target)
        #expect(batch.isCRCValid)
        #expect(batch.header.attributes == (original.header.attributes & ~0x07) | target.rawValue)
        #expect(batch.isTransactional && !batch.isControl && batch.timestampType == .createTime)
        #expect(batch.producerId == 7 && batch.producerEpoch == 2 && batch.baseSequence == 11)
        #expect(batch.baseOffset == original.baseOffset && batch.partitionLeaderEpoch == original.partitionLeaderEpoch)
        #expect(batch.header.lastOffsetDelta == 39 && batch.recordsCount == 40)
        #expect(batch.header.baseTimestamp == original.header.baseTimestamp)
        #expect(batch.maxTimestamp == original.maxTimestamp)
        let records = try batch.records()
        #expect(records == (try original.records()))
        #expect(records[2].value == nil && records[4].headers.count == 2 && records[4].headers[1].value == nil)
        #expect(Sample.string(records[7].key) == "key-7")
        let summary = try RecordBatchValidator.validate(rewritten, options: .init(recordValidation: .allBatches))
        #expect(summary.recordCount == 40)
    }

    @Test func aBatchAlreadyInTheTargetCodecOrAControlBatchIsLeftAlone() throws {
        let lz4 = try Sample.batch(count: 3, compression: .lz4)
        #expect(try RecordBatchRecompressor.recompress(records: lz4, to: .lz4, options: Self.client) == lz4)
        let marker = RecordBatchBuilder.endTransactionMarker(EndTransactionMarker(type: .commit, coordinatorEpoch: 1),
                                                             producerId: 1, producerEpoch: 0, timestamp: 5)
        let options = RecordBatchValidator.Options(origin: .replication)
        #expect(try RecordBatchRecompressor.recompress(records: marker, to: .zstd, options: options) == marker)
        #expect(!RecordBatchRecompressor.needsRecompression(try RecordBatch(marker).header, to: .zstd))
        #expect(RecordBatchRecompressor.needsRecompression(try RecordBatch(lz4).header, to: .none))
    }

    @Test func severalBatchesAreRewrittenInOrderAndControlBatchesKeptAsTheyAre() throws {
        let first = try Sample.batch(count: 2)
        let marker = RecordBatchBuilder.endTransactionMarker(EndTransactionMarker(type: .abort, coordinatorEpoch: 3),
                                                             producerId: 9, producerEpoch: 0, timestamp: 5, baseOffset: 2)
        var last = try Sample.batch(count: 4, compression: .snappy)
        last.setInteger(Int64(3), at: last.readerIndex + RecordBatchLayout.baseOffset) // outside the CRC
        let records = Sample.concat([first, marker, last])
        let options = RecordBatchValidator.Options(origin: .replication)
        let rewritten = try RecordBatchRecompressor.recompress(records: records, to: .gzip, options: options)
        let batches = try MemoryRecords(rewritten).batches()
        #expect(batches.map(\.compression) == [.gzip, CompressionCodec.none, .gzip])
        #expect(batches.map(\.baseOffset) == [0, 2, 3])
        #expect(batches.allSatisfy { $0.isCRCValid })
        #expect(batches[1].bytes == (try RecordBatch(marker)).bytes)
        #expect(try batches[2].records() == (try RecordBatch(last).records()))
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func aCorruptCompressedPayloadIsCorruptMessage(codec: CompressionCodec) throws {
        let bytes = try Sample.batch(count: 20, compression: codec)
        // Garble the middle of the compressed block, then fix the CRC so only the payload is wrong.
        var garbled = bytes
        let start = garbled.readerIndex + RecordBatchLayout.headerSize
        let length = garbled.readableBytes - RecordBatchLayout.headerSize
        for offset in stride(from: 0, to: length, by: 3) { garbled.setInteger(UInt8(0xA5), at: start + offset) }
        RecordBatchRewriter.updateCRC(in: &garbled, at: garbled.readerIndex, totalSize: garbled.readableBytes)
        let batch = try RecordBatch(garbled)
        #expect(batch.isCRCValid)
        let error = #expect(throws: RecordBatchError.self) {
            try RecordBatchRecompressor.recompress(batch, to: .none, options: Self.client)
        }
        #expect(error?.kafkaErrorCode == RecordBatchError.corruptMessage)
    }

    @Test(arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func aDecompressionBombStopsAtTheBound(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder(compression: codec)
        var zeros = ByteBuffer()
        zeros.writeRepeatingByte(0, count: 4 << 20)
        builder.append(key: nil, value: zeros, timestamp: 1)
        let batch = try RecordBatch(builder.build())
        #expect(batch.sizeInBytes < 256 << 10)
        var options = Self.client
        options.maxDecompressedBytes = 1 << 20
        #expect(throws: RecordBatchError.decompressedSizeExceeded(codec: codec, limit: 1 << 20)) {
            try RecordBatchRecompressor.recompress(batch, to: .snappy, options: options)
        }
    }

    @Test func theRecompressedSizeIsCheckedAgainstMaxMessageBytes() throws {
        // Incompressible values: the zstd batch grows once stored uncompressed.
        var builder = RecordBatchBuilder(compression: .zstd)
        for index in 0..<50 { builder.append(key: nil, value: RecordCompressionTests.payload(size: 400, seed: UInt64(index)),
                                             timestamp: 1) }
        let batch = try RecordBatch(builder.build())
        var options = Self.client
        options.maxBatchSize = batch.sizeInBytes
        let error = #expect(throws: RecordBatchError.self) {
            try RecordBatchRecompressor.recompress(batch, to: .none, options: options)
        }
        guard case let .batchTooLarge(size, maximum) = error else {
            Issue.record("expected batchTooLarge, got \(String(describing: error))")
            return
        }
        #expect(size > maximum && maximum == batch.sizeInBytes)
        #expect(error?.kafkaErrorCode == RecordBatchError.recordTooLarge)
    }

    @Test func recordsAreValidatedOneByOneWhenRecompressing() throws {
        var builder = RecordBatchBuilder(compression: .lz4)
        builder.append(key: ByteBuffer(string: "k"), value: nil, timestamp: 1_000)
        builder.append(key: nil, value: ByteBuffer(string: "v"), timestamp: 900_000)
        let batch = try RecordBatch(builder.build())
        var compacted = Self.client
        compacted.requireKeys = true
        #expect(throws: RecordBatchError.self) {
            try RecordBatchRecompressor.recompress(batch, to: .zstd, options: compacted)
        }
        // Each record's timestamp is checked: the second one lies outside the window.
        var windowed = Self.client
        windowed.timestampWindow = .init(now: 1_000, beforeMaxMs: 10, afterMaxMs: 10)
        let error = #expect(throws: RecordBatchError.self) {
            try RecordBatchRecompressor.recompress(batch, to: .zstd, options: windowed)
        }
        #expect(error?.kafkaErrorCode == RecordBatchError.invalidTimestamp)
        #expect(try RecordBatch(RecordBatchRecompressor.recompress(batch, to: .zstd, options: Self.client))
            .recordsCount == 2)
    }

    @Test func aCreateTimeBatchTakesItsMaxTimestampFromItsRecords() throws {
        var bytes = try Sample.batch(count: 5, compression: .gzip, baseTimestamp: 10_000)
        // A producer claiming a larger maxTimestamp than any record (CRC fixed): Kafka recomputes it.
        bytes.setInteger(Int64(99_999), at: bytes.readerIndex + RecordBatchLayout.maxTimestamp)
        RecordBatchRewriter.updateCRC(in: &bytes, at: bytes.readerIndex, totalSize: bytes.readableBytes)
        let rewritten = try RecordBatch(RecordBatchRecompressor.recompress(try RecordBatch(bytes), to: .lz4,
                                                                            options: Self.client))
        #expect(rewritten.maxTimestamp == 10_040)
    }

    @Test func recordFramesReadTheSameFieldsAsRecordsWithoutKeepingBytes() throws {
        let batch = try RecordBatch(Sample.batch(count: 6))
        var section = batch.recordsSection
        for record in try batch.records() {
            let frame = try RecordFrame.read(from: &section)
            #expect(frame.offsetDelta == record.offsetDelta && frame.timestampDelta == record.timestampDelta)
            #expect(frame.hasKey == (record.key != nil))
        }
        #expect(section.readableBytes == 0)
        var truncated = batch.recordsSection
        truncated.moveWriterIndex(to: truncated.writerIndex - 1)
        var last: RecordBatchError?
        for _ in 0..<6 {
            do { _ = try RecordFrame.read(from: &truncated) } catch { last = error; break }
        }
        #expect(last?.kafkaErrorCode == RecordBatchError.corruptMessage)
    }
}
