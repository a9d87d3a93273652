// Offsets by timestamp (ListOffsets) inside compressed batches of every codec: the exact record, not the
// batch's first offset, and never one below the log start offset.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct CompressedTimestampLookupTests {
    /// A compressed batch of `count` records with timestamps `timestamp + 10 i`.
    static func compressed(_ codec: CompressionCodec, count: Int, timestamp: Int64) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: codec)
        for index in 0..<count {
            builder.append(key: "k\(index)", value: String(repeating: "v", count: 50), timestamp: timestamp + Int64(index) * 10)
        }
        return try builder.build()
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func offsetByTimestampFindsTheExactRecordInsideACompressedBatch(codec: CompressionCodec) throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "z", partition: 0, topicId: nil)
        // Batch b holds offsets 8b..8b+7 with timestamps 1_000 b + 0, 10, …, 70.
        for batch in 0..<4 {
            _ = try log.appendAndWait(records: try Self.compressed(codec, count: 8, timestamp: Int64(batch) * 1_000), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        let found = try #require(try log.offset(for: .timestamp(2_035)))
        #expect(found.offset == 20 && found.timestamp == 2_040, "the first record at or after T, not the batch's first offset")
        #expect(try log.offset(for: .timestamp(2_000))?.offset == 16)
        #expect(try log.offset(for: .timestamp(1_071))?.offset == 16, "past a batch's last record: the next batch")
        #expect(try log.offset(for: .timestamp(3_070))?.offset == 31)
        #expect(try log.offset(for: .timestamp(3_071)) == nil)
        let max = try #require(try log.offset(for: .maxTimestamp))
        #expect(max.offset == 31 && max.timestamp == 3_070, "max timestamp names its record inside the batch")
    }

    @Test func offsetByTimestampInACompressedBatchRespectsTheLogStartOffset() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "z", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: try Self.compressed(.zstd, count: 8, timestamp: 0), leaderEpoch: 0)
        log.updateHighWatermark(8)
        try log.deleteRecords(before: 5)
        #expect(try log.offset(for: .timestamp(0))?.offset == 5)
        #expect(try log.offset(for: .timestamp(0))?.timestamp == 50)
    }
}
