// Append and read: offsets, header rewrite, slices, rolling, LogAppendTime, bounds, both I/O engines.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct PartitionLogAppendTests {
    @Test(arguments: TestManagers.engines)
    func appendAssignsConsecutiveOffsetsAndReadReturnsTheRewrittenBatches(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path, engine: engine)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "orders", partition: 0, topicId: UUID())
        let first = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 4)
        let second = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 4)
        #expect(first.baseOffset == 0 && first.lastOffset == 2)
        #expect(second.baseOffset == 3 && second.lastOffset == 4)
        #expect(log.logEndOffset == 5)
        log.updateHighWatermark(5)
        let read = try log.read(from: 0, maxBytes: 1 << 20)
        let bytes = try read.readBytes()
        let headers = TestBatches.headers(in: bytes)
        #expect(headers.map(\.baseOffset) == [0, 3])
        #expect(headers.map(\.partitionLeaderEpoch) == [4, 4])
        #expect(TestBatches.crcsValid(bytes))
        #expect(manager.engineKinds.values.first == engine)
    }

    @Test func multipleBatchesInOneAppendGetAscendingOffsets() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        var both = TestBatches.simple(count: 2)
        var second = TestBatches.simple(count: 3)
        both.writeBuffer(&second)
        let result = try log.appendAndWait(records: both, leaderEpoch: 0)
        #expect(result.baseOffset == 0 && result.lastOffset == 4)
        log.updateHighWatermark(5)
        let headers = TestBatches.headers(in: try log.read(from: 0, maxBytes: 1 << 20).readBytes())
        #expect(headers.map(\.baseOffset) == [0, 2])
    }

    @Test func readFromTheMiddleStartsAtTheBatchHoldingTheOffset() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 100
        config.segmentBytes = 2_000
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for _ in 0..<50 { _ = try log.appendAndWait(records: TestBatches.simple(count: 4, valueSize: 20), leaderEpoch: 0) }
        #expect(log.segmentBaseOffsets.count > 3)
        log.updateHighWatermark(log.logEndOffset)
        for target in [Int64(0), 1, 7, 57, 100, 133, 199] {
            let read = try log.read(from: target, maxBytes: 300)
            let headers = TestBatches.headers(in: try read.readBytes())
            let first = try #require(headers.first)
            #expect(first.baseOffset <= target && first.lastOffset >= target, "offset \(target)")
        }
        #expect(try log.read(from: 200, maxBytes: 100).isEmpty)
    }

    @Test func readBeyondTheLogEndIsOffsetOutOfRange() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(throws: StorageError.offsetOutOfRange(requested: 5, logStartOffset: 0, logEndOffset: 1)) {
            try log.read(from: 5, maxBytes: 100)
        }
    }

    @Test func readStopsAtTheHighWatermarkAndReturnsAtLeastOneBatch() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 100), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 100), leaderEpoch: 0)
        log.updateHighWatermark(2)
        let bounded = try log.read(from: 0, maxBytes: 1 << 20)
        #expect(TestBatches.headers(in: try bounded.readBytes()).map(\.baseOffset) == [0])
        let tiny = try log.read(from: 0, maxBytes: 10, minOneBatch: true)
        #expect(TestBatches.headers(in: try tiny.readBytes()).count == 1)
        let cut = try log.read(from: 0, maxBytes: 10, minOneBatch: false)
        #expect(cut.byteCount == 10)
        let follower = try log.read(from: 2, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(TestBatches.headers(in: try follower.readBytes()).map(\.baseOffset) == [2])
        #expect(try log.read(from: 2, maxBytes: 1 << 20).isEmpty)
    }

    @Test func logAppendTimeRewritesMaxTimestampAndKeepsTheCRCValid() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.messageTimestampType = .logAppendTime
        let clock = TestClock(1_700_000_000_000)
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        let result = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        #expect(result.logAppendTime == 1_700_000_000_000)
        log.updateHighWatermark(3)
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        let header = try #require(TestBatches.headers(in: bytes).first)
        #expect(header.timestampType == .logAppendTime)
        #expect(header.maxTimestamp == 1_700_000_000_000)
        #expect(TestBatches.crcsValid(bytes))
    }

    @Test func anAppendLargerThanASegmentIsRecordListTooLargeAndLeavesTheLogAlone() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 500
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        do {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 4, valueSize: 200), leaderEpoch: 0)
            Issue.record("an append over segment.bytes was accepted")
        } catch {
            guard case .recordListTooLarge(_, 500) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
        #expect(log.logEndOffset == 0)
        #expect(try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0).baseOffset == 0)
    }

    @Test func segmentsRollOnSizeAndAgeAndOffsetsContinue() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 500
        config.segmentMs = 1_000
        let clock = TestClock(1_000_000)
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 150), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 150), leaderEpoch: 0)
        #expect(log.segmentBaseOffsets == [0, 2])
        clock.advance(2_000)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(log.segmentBaseOffsets == [0, 2, 4])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/t-0")
        #expect(files.contains("00000000000000000002.log"))
        #expect(files.contains("00000000000000000002.index"))
        #expect(files.contains("00000000000000000002.timeindex"))
        #expect(files.contains("00000000000000000004.snapshot"))
    }

    @Test func malformedAppendIsRejectedWithCorruptMessage() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        var short = TestBatches.simple(count: 2)
        short.moveWriterIndex(to: short.writerIndex - 5)
        #expect(throws: StorageError.self) { try log.appendAndWait(records: short, leaderEpoch: 0) }
        #expect(log.logEndOffset == 0)
    }

    @Test func appendListenerFiresWhenTheLogEndOffsetMoves() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        let seen = NSLock()
        nonisolated(unsafe) var ends: [Int64] = []
        log.setAppendListener { log in seen.withLock { ends.append(log.logEndOffset) } }
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        #expect(seen.withLock { ends } == [2])
    }
}
