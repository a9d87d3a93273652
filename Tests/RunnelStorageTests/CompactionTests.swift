// Compaction: latest value per key, offsets kept, tombstones after delete.retention.ms, aborted
// transactions removed with markers kept, min.compaction.lag.ms, dirty ratio, restart after a swap.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct CompactionTests {
    static func keyed(_ key: String, _ value: String?, at timestamp: Int64) -> TestRecord {
        TestRecord(key: Array(key.utf8), value: value.map { Array($0.utf8) }, timestamp: timestamp)
    }

    /// (offset, key, value) of every record readable from the log.
    static func contents(_ log: PartitionLog) throws -> [(Int64, String, String?)] {
        log.updateHighWatermark(log.logEndOffset)
        var found: [(Int64, String, String?)] = []
        var offset = log.logStartOffset
        while offset < log.logEndOffset {
            let bytes = try log.read(from: offset, maxBytes: 1 << 20).readBytes()
            #expect(TestBatches.crcsValid(bytes))
            var index = bytes.readerIndex
            guard let first = RecordBatchHeader(from: bytes, at: index) else { break }
            var last = first.lastOffset
            while let header = RecordBatchHeader(from: bytes, at: index), index + header.totalSize <= bytes.writerIndex {
                for record in CompactionFilter.records(in: bytes, at: index, header: header) ?? [] where record.offset >= offset {
                    let value: String? = record.isTombstone ? nil : "v"
                    found.append((record.offset, String(decoding: record.key ?? [], as: UTF8.self), value))
                }
                last = header.lastOffset
                index += header.totalSize
            }
            offset = last + 1
        }
        return found
    }

    static func compactedLog(_ dir: TemporaryDirectory, clock: TestClock, lagMs: Int64 = 0) throws -> (LogManager, PartitionLog) {
        var config = LogConfig()
        config.cleanupPolicy = .compact
        config.segmentBytes = 400
        config.deleteRetentionMs = 10_000
        config.minCompactionLagMs = lagMs
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        return (manager, try manager.createLog(topic: "c", partition: 0, topicId: nil))
    }

    @Test func compactionKeepsTheLatestRecordPerKeyWithTheirOriginalOffsets() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        for round in 0..<10 {
            let records = (0..<3).map { Self.keyed("k\($0)", "value-\(round)-\($0)", at: 1_000_000) }
            _ = try log.appendAndWait(records: TestBatches.batch(records), leaderEpoch: 0)
        }
        #expect(log.segmentBaseOffsets.count > 3)
        log.updateHighWatermark(log.logEndOffset)
        let before = try Self.contents(log)
        let stats = try #require(try log.compactIfDirty())
        #expect(stats.recordsRemoved > 0 && stats.bytesAfter < stats.bytesBefore)
        let after = try Self.contents(log)
        let activeBase = try #require(log.segmentBaseOffsets.last)
        // Below the active segment only the latest offset of each key remains.
        let latest = Dictionary(before.map { ($0.1, $0.0) }, uniquingKeysWith: max)
        for (offset, key, _) in after where offset < activeBase {
            #expect(latest[key] == offset || before.contains { $0.1 == key && $0.0 > offset && $0.0 >= activeBase })
        }
        #expect(Set(after.map(\.1)) == ["k0", "k1", "k2"])
        #expect(after.count < before.count)
        #expect(log.logEndOffset == 30)
        // Nothing more to clean: the dirty part is gone.
        #expect(try log.compactIfDirty() == nil)
        manager.shutdown()
        let reopened = try TestManagers.make(dir.path)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "c", partition: 0))
        #expect(try Self.contents(again).map(\.0) == after.map(\.0))
    }

    @Test func tombstonesAreRemovedOnlyAfterDeleteRetentionMs() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("a", "1", at: 1_000_000), Self.keyed("b", "1", at: 1_000_000)]), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("a", nil, at: 1_000_000)]), leaderEpoch: 0)
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("filler\(index % 2)", String(repeating: "x", count: 60), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        var keys = try Self.contents(log)
        #expect(keys.contains { $0.1 == "a" && $0.2 == nil }, "a recent tombstone stays")
        #expect(!keys.contains { $0.1 == "a" && $0.2 != nil })
        clock.advance(20_000)
        // New dirty data (rolled out of the active segment) triggers the next pass.
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("new\(index % 2)", String(repeating: "y", count: 60), at: 1_020_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        keys = try Self.contents(log)
        #expect(!keys.contains { $0.1 == "a" }, "an old tombstone is gone")
        #expect(keys.contains { $0.1 == "b" })
    }

    @Test func abortedTransactionalRecordsAreRemovedAndMarkersKept() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        let aborted = TestBatches.batch([Self.keyed("t", "aborted", at: 1_000_000)], producerId: 3, producerEpoch: 0,
                                        baseSequence: 0, transactional: true)
        _ = try log.appendAndWait(records: aborted, leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 3, producerEpoch: 0), leaderEpoch: 0, origin: .coordinator)
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("f\(index)", String(repeating: "x", count: 60), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        let keys = try Self.contents(log)
        #expect(!keys.contains { $0.1 == "t" })
        log.updateHighWatermark(log.logEndOffset)
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        #expect(TestBatches.headers(in: bytes).contains { $0.isControl && $0.baseOffset == 1 })
        #expect(log.abortedTransactions(from: 0, to: 10).map(\.producerId) == [3])
    }

    @Test func recordsYoungerThanMinCompactionLagAreNotCompacted() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock, lagMs: 60_000)
        defer { manager.shutdown() }
        for round in 0..<8 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("k", "value-\(round)-" + String(repeating: "x", count: 80), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        #expect(try log.compactIfDirty(force: true) == nil)
        clock.advance(120_000)
        #expect(try log.compactIfDirty(force: true)?.recordsRemoved ?? 0 > 0)
    }
}
