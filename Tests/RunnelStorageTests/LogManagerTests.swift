// LogManager: create/list/reopen, clean-shutdown marker, torn-tail recovery, offsets by timestamp.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct LogManagerTests {
    @Test func partitionsAndTopicIdsAreFoundOnDiskAfterRestart() throws {
        let dir = TemporaryDirectory()
        let id = UUID()
        do {
            let manager = try TestManagers.make(dir.path)
            _ = try manager.createLog(topic: "a.b_c-d", partition: 3, topicId: id)
            _ = try manager.createLog(topic: "x", partition: 0, topicId: nil)
            #expect(throws: StorageError.logAlreadyExists(topic: "x", partition: 0)) {
                try manager.createLog(topic: "x", partition: 0, topicId: nil)
            }
            manager.shutdown()
        }
        #expect(FileManager.default.fileExists(atPath: dir.path + "/.kafka_cleanshutdown"))
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/.kafka_cleanshutdown"))
        let found = manager.partitions
        #expect(found.map(\.topic) == ["a.b_c-d", "x"])
        #expect(found[0].partition == 3 && found[0].topicId == id)
        #expect(try manager.log(topic: "nope", partition: 0) == nil)
    }

    @Test func cleanRestartKeepsOffsetsAndData() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 400
        do {
            let manager = try TestManagers.make(dir.path, defaults: config)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for _ in 0..<20 { _ = try log.appendAndWait(records: TestBatches.simple(count: 3, valueSize: 30), leaderEpoch: 2) }
            log.updateHighWatermark(60)
            manager.shutdown()
        }
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.logEndOffset == 60)
        #expect(log.highWatermark == 60)
        #expect(log.latestLeaderEpoch == 2)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 2)
        #expect(next.baseOffset == 60)
        log.updateHighWatermark(61)
        let headers = TestBatches.headers(in: try log.read(from: 31, maxBytes: 1 << 20).readBytes())
        #expect(headers.first.map { $0.baseOffset <= 31 && $0.lastOffset >= 31 } == true)
    }

    @Test(arguments: TestManagers.engines)
    func uncleanRestartTruncatesATornTail(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path, engine: engine)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for _ in 0..<5 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
            manager.abandonForTesting()
        }
        // A torn write: half of a batch after the last whole one.
        let path = dir.path + "/t-0/00000000000000000000.log"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        let torn = TestBatches.simple(count: 4)
        handle.write(Data(torn.getBytes(at: 0, length: 40)!))
        handle.closeFile()
        let manager = try TestManagers.make(dir.path, engine: engine)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.logEndOffset == 10)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(next.baseOffset == 10)
        log.updateHighWatermark(11)
        #expect(TestBatches.headers(in: try log.read(from: 0, maxBytes: 1 << 20).readBytes()).count == 6)
    }

    @Test func uncleanRestartTruncatesAtACorruptBatchAndRebuildsIndexes() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 50
        var logicalSize = 0
        do {
            let manager = try TestManagers.make(dir.path, defaults: config)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for _ in 0..<6 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
            logicalSize = Int(log.size)  // the direct path's file is longer: its tail block is zero-padded
            manager.abandonForTesting()
        }
        let path = dir.path + "/t-0/00000000000000000000.log"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let batchSize = logicalSize / 6
        data[batchSize * 3 + 70] ^= 0xFF  // inside the 4th batch's records
        try data.write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: dir.path + "/t-0/00000000000000000000.index")
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.logEndOffset == 6)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/t-0/00000000000000000000.index"))
        log.updateHighWatermark(6)
        #expect(TestBatches.headers(in: try log.read(from: 5, maxBytes: 1 << 20).readBytes()).map(\.baseOffset) == [4])
    }

    @Test func offsetsByTimestampFindTheFirstRecordAtOrAfterTheTarget() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 60
        config.segmentBytes = 600
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        // Batch i holds offsets 4i..4i+3 with timestamps 10_000 + 100 i + 0...3.
        for batch in 0..<30 {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 4, timestamp: 10_000 + Int64(batch) * 100), leaderEpoch: 1)
        }
        log.updateHighWatermark(120)
        #expect(log.segmentBaseOffsets.count > 2)
        #expect(try log.offset(for: .timestamp(10_502))?.offset == 22)
        #expect(try log.offset(for: .timestamp(10_502))?.timestamp == 10_502)
        #expect(try log.offset(for: .timestamp(10_550))?.offset == 24)
        #expect(try log.offset(for: .timestamp(0))?.offset == 0)
        #expect(try log.offset(for: .timestamp(99_999)) == nil)
        #expect(try log.offset(for: .earliest)?.offset == 0)
        #expect(try log.offset(for: .latest)?.offset == 120)
        let max = try #require(try log.offset(for: .maxTimestamp))
        #expect(max.offset == 119 && max.timestamp == 12_903)
        #expect(max.leaderEpoch == 1)
    }

    @Test func deleteLogRemovesTheDirectoryAndTheListing() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        log.updateHighWatermark(2)
        let slice = try log.read(from: 0, maxBytes: 1000)
        try manager.deleteLog(topic: "t", partition: 0)
        #expect(manager.partitions.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/t-0"))
        #expect(TestBatches.headers(in: try slice.readBytes()).count == 1)
    }
}
