// Lazy opening, the file-handle LRU, flush policies, roll triggers, run-time config changes and the
// background scheduler thread.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct LifecycleTests {
    @Test func aCleanStartLoadsOnlyTheActiveSegmentAndOpensLogsOnDemand() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 300
        do {
            let manager = try TestManagers.make(dir.path, defaults: config)
            for partition in 0..<3 {
                let log = try manager.createLog(topic: "lazy", partition: Int32(partition), topicId: nil)
                for _ in 0..<10 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 50), leaderEpoch: 0) }
            }
            manager.shutdown()
        }
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        #expect(manager.partitions.count == 3)
        #expect(manager.openLogs.isEmpty)
        let log = try #require(try manager.log(topic: "lazy", partition: 1))
        #expect(manager.openLogs.count == 1)
        let loaded = log.state.withLock { s in s.local.segments.map(\.isLoaded) }
        #expect(loaded.count > 2)
        #expect(loaded.dropLast().allSatisfy { !$0 })
        #expect(loaded.last == true)
        #expect(log.logEndOffset == 20)
    }

    @Test func theFileHandleCacheStaysUnderItsCapacity() throws {
        let dir = TemporaryDirectory()
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir.path], ioEngine: .posix)
        configuration.maxOpenFiles = 8
        let manager = try LogManager(configuration: configuration)
        defer { manager.shutdown() }
        for partition in 0..<10 {
            let log = try manager.createLog(topic: "many", partition: Int32(partition), topicId: nil)
            _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        }
        #expect(manager.cache.openCount <= 8)
        // Evicted files reopen on demand.
        let first = try #require(try manager.log(topic: "many", partition: 0))
        first.updateHighWatermark(1)
        #expect(TestBatches.headers(in: try first.read(from: 0, maxBytes: 1000).readBytes()).count == 1)
    }

    @Test func flushMessagesAboveOneAcknowledgesFromThePageCacheAndFsyncsEveryNMessages() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.flushMessages = 5
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        #expect(log.recoveryPoint == 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        #expect(log.recoveryPoint == 5)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(log.recoveryPoint == 5)
        let flushed = DispatchSemaphore(value: 0)
        log.flush { _ in flushed.signal() }
        flushed.wait()
        #expect(log.recoveryPoint == 6)
    }

    @Test func aFullOffsetIndexOrAnOffsetOverflowRollsTheSegment() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentIndexBytes = 16  // two entries
        config.indexIntervalBytes = 1
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for _ in 0..<6 { _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0) }
        #expect(log.segmentBaseOffsets.count >= 2)
        let replica = try manager.createLog(topic: "t", partition: 1, topicId: nil)
        let first = TestBatches.batch([TestRecord(key: nil, value: [1], timestamp: 1)], baseOffset: 0)
        let far = TestBatches.batch([TestRecord(key: nil, value: [2], timestamp: 2)], baseOffset: Int64(Int32.max) + 10)
        _ = try replica.appendAndWait(records: first, leaderEpoch: 0, origin: .replication)
        _ = try replica.appendAndWait(records: far, leaderEpoch: 0, origin: .replication)
        #expect(replica.segmentBaseOffsets == [0, Int64(Int32.max) + 10])
        let fresh = try manager.createLog(topic: "t", partition: 2, topicId: nil)
        _ = try fresh.appendAndWait(records: far, leaderEpoch: 0, origin: .replication)
        #expect(fresh.segmentBaseOffsets == [Int64(Int32.max) + 10])
        #expect(fresh.logEndOffset == Int64(Int32.max) + 11)
        #expect(fresh.logStartOffset == Int64(Int32.max) + 10)
    }

    @Test func updateConfigChangesRollingAtRunTime() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 200), leaderEpoch: 0)
        var config = log.config
        config.segmentBytes = 600
        try log.updateConfig(config)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 200), leaderEpoch: 0)
        #expect(log.segmentBaseOffsets == [0, 2])
        config.minCleanableDirtyRatio = 2
        #expect(throws: StorageError.self) { try log.updateConfig(config) }
    }

    @Test func theSchedulerThreadAppliesRetentionOnItsOwn() throws {
        let dir = TemporaryDirectory()
        var configuration = LogManagerConfiguration(logDirs: [dir.path])
        configuration.ioEngine = .posix
        configuration.retentionCheckIntervalMs = 20
        configuration.flushSchedulerIntervalMs = 10
        configuration.defaultLogConfig.segmentBytes = 300
        configuration.defaultLogConfig.retentionMs = 1_000
        configuration.defaultLogConfig.fileDeleteDelayMs = 0
        let manager = try LogManager(configuration: configuration)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for _ in 0..<4 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2, timestamp: 1_000, valueSize: 100), leaderEpoch: 0) }
        log.updateHighWatermark(log.logEndOffset)
        for _ in 0..<500 where log.logStartOffset < 8 { usleep(10_000) }
        #expect(log.logStartOffset == 8)
        for _ in 0..<500 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/t-0")) ?? []
            if !names.contains(where: { $0.hasSuffix(".deleted") }) { break }
            usleep(10_000)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/t-0")
        #expect(!names.contains { $0.hasSuffix(".deleted") })
    }
}
