// Retention by time and size, DeleteRecords, asynchronous deletion, truncation, leader epochs.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct RetentionTests {
    static func filledLog(_ dir: TemporaryDirectory, clock: TestClock, config: LogConfig, batches: Int = 12) throws -> (LogManager, PartitionLog) {
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for batch in 0..<batches {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 2, timestamp: 1_000 + Int64(batch) * 1_000, valueSize: 100),
                                      leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        return (manager, log)
    }

    @Test func retentionMsDeletesSegmentsWhoseLargestTimestampIsOldAndRenamesThemFirst() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 600
        config.retentionMs = 5_000
        config.fileDeleteDelayMs = 10_000
        let clock = TestClock(13_500)
        let (manager, log) = try Self.filledLog(dir, clock: clock, config: config)
        defer { manager.shutdown() }
        let before = log.segmentBaseOffsets
        #expect(before.count >= 4)
        let held = try log.read(from: 0, maxBytes: 1 << 20)
        let deleted = try log.applyRetention()
        #expect(deleted > 0)
        #expect(log.logStartOffset == log.segmentBaseOffsets[0])
        #expect(log.logStartOffset > 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/t-0")
        #expect(files.contains("00000000000000000000.log.deleted"))
        // The reader's slice stays valid while the file waits for deletion.
        #expect(TestBatches.headers(in: try held.readBytes()).first?.baseOffset == 0)
        clock.advance(20_000)
        log.removeDueFiles()
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/t-0")
        #expect(!after.contains { $0.hasSuffix(".deleted") })
        #expect(throws: StorageError.self) { try log.read(from: 0, maxBytes: 100) }
    }

    @Test func retentionBytesKeepsThePartitionUnderTheLimit() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 600
        config.retentionMs = -1
        config.retentionBytes = 1_200
        let (manager, log) = try Self.filledLog(dir, clock: TestClock(0), config: config)
        defer { manager.shutdown() }
        try log.applyRetention()
        #expect(log.size <= 1_200 + 600)
        #expect(log.size > 0)
        #expect(log.logEndOffset == 24)
    }

    @Test func theActiveSegmentIsRolledAwayBeforeItIsDeleted() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.retentionMs = 1_000
        let clock = TestClock(100_000)
        let (manager, log) = try Self.filledLog(dir, clock: clock, config: config, batches: 2)
        defer { manager.shutdown() }
        try log.applyRetention()
        #expect(log.segmentBaseOffsets == [4])
        #expect(log.logStartOffset == 4 && log.logEndOffset == 4)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1, timestamp: 100_000), leaderEpoch: 0)
        #expect(next.baseOffset == 4)
    }

    @Test func deleteRecordsMovesTheLogStartOffsetAndRemovesWholeSegmentsBelowIt() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 600
        config.retentionMs = -1
        let (manager, log) = try Self.filledLog(dir, clock: TestClock(0), config: config)
        defer { manager.shutdown() }
        #expect(try log.deleteRecords(before: 9) == 9)
        #expect(log.logStartOffset == 9)
        #expect(log.segmentBaseOffsets[0] <= 9)
        #expect(throws: StorageError.offsetOutOfRange(requested: 3, logStartOffset: 9, logEndOffset: 24)) {
            try log.read(from: 3, maxBytes: 100)
        }
        #expect(try log.offset(for: .earliest)?.offset == 9)
        #expect(throws: StorageError.self) { try log.deleteRecords(before: 100) }
        manager.shutdown()
        let reopened = try TestManagers.make(dir.path, defaults: config)
        defer { reopened.shutdown() }
        #expect(try reopened.log(topic: "t", partition: 0)?.logStartOffset == 9)
    }

    @Test func truncationRemovesTheTailAndLeaderEpochsAnswerOffsetForLeaderEpoch() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 400
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for epoch: Int32 in [1, 1, 2, 2, 5, 5] {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 60), leaderEpoch: epoch)
        }
        #expect(log.endOffset(forLeaderEpoch: 1) == (1, 4))
        #expect(log.endOffset(forLeaderEpoch: 3) == (2, 8))
        #expect(log.endOffset(forLeaderEpoch: 5) == (5, 12))
        #expect(log.endOffset(forLeaderEpoch: 6) == (-1, -1))
        try log.truncate(to: 5)
        #expect(log.logEndOffset == 4)
        #expect(log.endOffset(forLeaderEpoch: 2) == (-1, -1) || log.latestLeaderEpoch == 1)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 7)
        #expect(next.baseOffset == 4)
        #expect(log.endOffset(forLeaderEpoch: 1) == (1, 4))
    }

    /// A follower's fetch loop truncates from Swift's cooperative pool: the async forms wait for the appends
    /// still in flight by suspending, then cut, and the log goes on from the cut.
    @Test func truncationFromTheCooperativePoolWaitsForAppendsInFlight() async throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        let completed = Atomic<Int>(0)
        for _ in 0..<40 {
            log.append(records: TestBatches.simple(count: 2, valueSize: 2_000), leaderEpoch: 1) { result in
                if case .success = result { completed.add(1, ordering: .relaxed) }
            }
        }
        try await log.truncateAfterWrites(to: 7)
        #expect(completed.load(ordering: .relaxed) == 40, "every append was complete before the cut")
        #expect(log.logEndOffset == 6 && log.appendedEndOffset == 6)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 2)
        #expect(next.baseOffset == 6)
        let fully = try manager.createLog(topic: "t", partition: 1, topicId: nil)
        for _ in 0..<10 { fully.append(records: TestBatches.simple(count: 1), leaderEpoch: 1) { _ in } }
        try await fully.truncateFullyAfterWrites(startingAt: 100)
        #expect(fully.logStartOffset == 100 && fully.logEndOffset == 100)
    }

    @Test func replicatedBatchesKeepTheirOffsetsAndEpochs() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        let batch = TestBatches.batch([TestRecord(key: nil, value: [1], timestamp: 5)], baseOffset: 10, partitionLeaderEpoch: 3)
        let result = try log.appendAndWait(records: batch, leaderEpoch: 0, origin: .replication)
        #expect(result.baseOffset == 10 && log.logEndOffset == 11)
        #expect(log.latestLeaderEpoch == 3)
        #expect(throws: StorageError.self) { try log.appendAndWait(records: batch, leaderEpoch: 0, origin: .replication) }
        let fully = try manager.createLog(topic: "t", partition: 1, topicId: nil)
        try fully.truncateFullyAndStart(at: 100)
        #expect(fully.logStartOffset == 100 && fully.logEndOffset == 100)
    }
}
