import KafkaRecords
import NIOCore
import Testing

@Suite struct RecordBatchTests {
    @Test func builderMatchesHandEncodedBatchFromTheSpec() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: "k", value: "v", timestamp: 1000)
        let built = try builder.build()

        // Hand-encoded per the v2 format: header then one record
        // [len=8 → 0x10][attr 0][tsDelta 0][offDelta 0][keyLen 1 → 0x02]'k'[valLen 0x02]'v'[headers 0].
        var expected: [UInt8] = []
        func be<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.bigEndian) { expected += $0 } }
        be(Int64(0)); be(Int32(58)); be(Int32(-1)); expected.append(2); be(UInt32(0))
        be(Int16(0)); be(Int32(0)); be(Int64(1000)); be(Int64(1000)); be(Int64(-1)); be(Int16(-1)); be(Int32(-1)); be(Int32(1))
        expected += [0x10, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00]
        let crc = expected[21...].withUnsafeBytes { CRC32C.portableChecksum($0) }
        withUnsafeBytes(of: crc.bigEndian) { expected.replaceSubrange(17..<21, with: $0) }

        #expect(Sample.bytes(built) == expected)
        #expect(built.readableBytes == 70)
    }

    @Test func uncompressedRoundTripKeepsKeysValuesHeadersAndNulls() throws {
        let bytes = try Sample.batch(count: 7, producerId: 42, producerEpoch: 3, baseSequence: 100)
        let batch = try RecordBatch(bytes)
        #expect(batch.isCRCValid)
        #expect(batch.recordsCount == 7)
        #expect(batch.lastOffset == 6)
        #expect(batch.producerId == 42 && batch.producerEpoch == 3 && batch.baseSequence == 100)
        #expect(batch.header.lastSequence == 106)
        #expect(batch.maxTimestamp == 1_700_000_000_060)
        let records = try batch.records()
        #expect(records.count == 7)
        for (index, record) in records.enumerated() {
            #expect(record.offset == Int64(index))
            #expect(record.offsetDelta == Int32(index))
            #expect(record.timestamp == 1_700_000_000_000 + Int64(index * 10))
            #expect(Sample.string(record.key) == "key-\(index)")
            if index % 3 == 2 {
                #expect(record.value == nil)
            } else {
                #expect(Sample.string(record.value) == "value-\(index)-" + String(repeating: "x", count: index))
            }
            if index % 2 == 0 {
                #expect(record.headers.map(\.key) == ["h\(index)", "null"])
                #expect(Sample.string(record.headers[0].value) == "hv")
                #expect(record.headers[1].value == nil)
            } else {
                #expect(record.headers.isEmpty)
            }
        }
    }

    @Test func nullKeyAndEmptyValueAreDistinct() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: nil as ByteBuffer?, value: ByteBuffer(), timestamp: 5)
        let record = try #require(try RecordBatch(builder.build()).records().first)
        #expect(record.key == nil)
        #expect(record.value?.readableBytes == 0)
    }

    @Test func negativeTimestampDeltasRoundTrip() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: "a", value: "1", timestamp: 2_000)
        builder.append(key: "b", value: "2", timestamp: 1_000)
        let batch = try RecordBatch(builder.build())
        #expect(batch.header.baseTimestamp == 2_000 && batch.maxTimestamp == 2_000)
        #expect(try batch.records().map(\.timestamp) == [2_000, 1_000])
    }

    @Test func logAppendTimeBatchReportsMaxTimestampForEveryRecord() throws {
        var builder = RecordBatchBuilder(logAppendTime: 9_999)
        builder.append(key: "a", value: "1", timestamp: 1)
        builder.append(key: "b", value: "2", timestamp: 2)
        let batch = try RecordBatch(builder.build())
        #expect(batch.timestampType == .logAppendTime)
        #expect(try batch.records().map(\.timestamp) == [9_999, 9_999])
        #expect(try batch.records().map(\.timestampDelta) == [0, 1])
    }

    @Test(arguments: [ControlRecordType.commit, .abort])
    func transactionMarkerRoundTrips(type: ControlRecordType) throws {
        let bytes = RecordBatchBuilder.endTransactionMarker(EndTransactionMarker(type: type, coordinatorEpoch: 17),
                                                            producerId: 9, producerEpoch: 2, timestamp: 123)
        let batch = try RecordBatch(bytes)
        #expect(batch.isControl && batch.isTransactional && batch.isCRCValid)
        #expect(batch.producerId == 9 && batch.producerEpoch == 2 && batch.baseSequence == -1)
        let marker = try #require(try batch.endTransactionMarker())
        #expect(marker == EndTransactionMarker(type: type, coordinatorEpoch: 17))
        let record = try #require(try batch.records().first)
        #expect(try ControlRecordType.parse(key: record.key) == type)
    }

    @Test func dataBatchHasNoTransactionMarker() throws {
        #expect(try RecordBatch(Sample.batch()).endTransactionMarker() == nil)
    }

    @Test func shortControlKeyIsCorrupt() {
        #expect(throws: RecordBatchError.self) { try ControlRecordType.parse(key: ByteBuffer(bytes: [0, 0])) }
    }

    @Test(arguments: [Int8(0), 1])
    func magicV0AndV1MessageSetsAreRejectedWithUnsupportedForMessageFormat(magic: Int8) {
        // A v0/v1 message: offset, size, crc, magic, attributes, [timestamp], key, value.
        var buffer = ByteBuffer()
        buffer.writeInteger(Int64(0)); buffer.writeInteger(Int32(magic == 0 ? 14 : 22))
        buffer.writeInteger(UInt32(0)); buffer.writeInteger(magic); buffer.writeInteger(Int8(0))
        if magic == 1 { buffer.writeInteger(Int64(0)) }
        buffer.writeInteger(Int32(-1)); buffer.writeInteger(Int32(0))
        do {
            _ = try RecordBatch(buffer)
            Issue.record("expected rejection")
        } catch {
            #expect(error == .unsupportedMagic(position: 0, magic: magic))
            #expect(error.kafkaErrorCode == 43)
            #expect(error.description.contains("magic v2"))
        }
        #expect(throws: RecordBatchError.unsupportedMagic(position: 0, magic: magic)) {
            try RecordBatchValidator.validate(buffer)
        }
    }

    @Test func bitFlipsInsideTheCRCRangeAreDetected() throws {
        let bytes = try Sample.batch(count: 4)
        for offset in stride(from: RecordBatchLayout.attributes, to: bytes.readableBytes, by: 3) {
            for bit in [0, 5] {
                let batch = try? RecordBatch(Sample.flip(bytes, byte: offset, bit: bit))
                // A flip may also break the header (then init throws); otherwise the CRC must catch it.
                if let batch { #expect(!batch.isCRCValid, "flip at byte \(offset) bit \(bit) went unnoticed") }
            }
        }
    }

    @Test func recordLyingAboutItsLengthIsCorruptNotACrash() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: "k", value: "v", timestamp: 1)
        var bytes = try builder.build()
        bytes.setInteger(UInt8(0x7E), at: 61) // record length varint: 63 bytes, far past the batch end
        let batch = try RecordBatch(bytes)
        #expect(throws: RecordBatchError.self) { try batch.records() }
    }

    @Test func declaredCountLargerThanRecordsIsCorrupt() throws {
        var bytes = try Sample.batch(count: 2)
        bytes.setInteger(Int32(3), at: RecordBatchLayout.recordsCount)
        #expect(throws: RecordBatchError.self) { try RecordBatch(bytes).records() }
        bytes.setInteger(Int32(1), at: RecordBatchLayout.recordsCount)
        #expect(throws: RecordBatchError.self) { try RecordBatch(bytes).records() }
    }

    @Test func hugeHeaderCountDoesNotAllocate() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: nil as ByteBuffer?, value: nil, timestamp: 1)
        var bytes = try builder.build()
        // Record: len, attr, tsDelta, offDelta, key -1, value -1, header count → set to a huge varint.
        let headerCountIndex = 61 + 6
        #expect(bytes.getInteger(at: headerCountIndex, as: UInt8.self) == 0)
        bytes.setInteger(UInt8(0x7F), at: headerCountIndex)
        do {
            _ = try RecordBatch(bytes).records()
            Issue.record("expected corruptRecord")
        } catch {
            #expect(error.kafkaErrorCode == 2)
        }
    }

    @Test func everyTruncationOfABatchIsRejected() throws {
        let bytes = try Sample.batch(count: 3)
        for length in 0..<bytes.readableBytes {
            let cut = bytes.getSlice(at: bytes.readerIndex, length: length) ?? ByteBuffer()
            do {
                _ = try RecordBatch(cut)
                Issue.record("truncated to \(length) bytes was accepted")
            } catch {
                #expect(error.kafkaErrorCode == 2)
            }
        }
    }

    @Test func batchLengthBelowTheHeaderIsInvalid() throws {
        var bytes = try Sample.batch(count: 1)
        bytes.setInteger(Int32(10), at: RecordBatchLayout.batchLength)
        #expect(throws: RecordBatchError.invalidBatchLength(position: 0, batchLength: 10)) { try RecordBatch(bytes) }
        bytes.setInteger(Int32(-5), at: RecordBatchLayout.batchLength)
        #expect(throws: RecordBatchError.invalidBatchLength(position: 0, batchLength: -5)) { try RecordBatch(bytes) }
    }
}
