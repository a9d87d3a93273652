import KafkaRecords
import NIOCore
import Testing

@Suite struct RecordBatchRewriterTests {
    /// Recomputes the CRC after a test edits a CRC'd field on purpose.
    static func fixCRC(_ bytes: inout ByteBuffer) {
        let crc = CRC32C.checksum(of: bytes, at: bytes.readerIndex + 21, length: bytes.readableBytes - 21) ?? 0
        bytes.setInteger(crc, at: bytes.readerIndex + RecordBatchLayout.crc)
    }

    @Test func settingBaseOffsetAndLeaderEpochKeepsTheCRCValid() throws {
        var bytes = try Sample.batch(count: 4)
        let crc = try RecordBatch(bytes).header.crc
        #expect(RecordBatchRewriter.setBaseOffset(1_000, partitionLeaderEpoch: 7, in: &bytes, at: bytes.readerIndex))
        let batch = try RecordBatch(bytes)
        #expect(batch.baseOffset == 1_000 && batch.lastOffset == 1_003 && batch.partitionLeaderEpoch == 7)
        #expect(batch.header.crc == crc && batch.isCRCValid)
        #expect(try batch.records().map(\.offset) == [1_000, 1_001, 1_002, 1_003])
    }

    @Test func setBaseOffsetRefusesAShortBuffer() {
        var bytes = ByteBuffer(bytes: [UInt8](repeating: 0, count: 60))
        #expect(!RecordBatchRewriter.setBaseOffset(1, partitionLeaderEpoch: 1, in: &bytes, at: 0))
    }

    @Test func settingLogAppendTimeRecomputesTheCRC() throws {
        var bytes = try Sample.batch(count: 3)
        try RecordBatchRewriter.setLogAppendTime(42_000, in: &bytes, at: bytes.readerIndex)
        let batch = try RecordBatch(bytes)
        #expect(batch.isCRCValid)
        #expect(batch.timestampType == .logAppendTime && batch.maxTimestamp == 42_000)
        #expect(try batch.records().allSatisfy { $0.timestamp == 42_000 })
    }

    @Test func assignOffsetsNumbersConsecutiveBatchesFromTheLogEndOffset() throws {
        var records = Sample.concat([try Sample.batch(count: 3), try Sample.batch(count: 2)])
        let next = try RecordBatchRewriter.assignOffsets(in: &records, firstOffset: 50, partitionLeaderEpoch: 4,
                                                         logAppendTime: 77)
        #expect(next == 55)
        let batches = try MemoryRecords(records).batches()
        #expect(batches.map(\.baseOffset) == [50, 53])
        #expect(batches.allSatisfy { $0.isCRCValid && $0.partitionLeaderEpoch == 4 && $0.maxTimestamp == 77 })
        let summary = try RecordBatchValidator.validate(records, options: .init(origin: .replication))
        #expect(summary.firstOffset == 50 && summary.lastOffset == 54)
    }
}
