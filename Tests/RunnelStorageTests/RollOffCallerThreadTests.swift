// Roll-time I/O off the appending thread: a partition rolling on nearly every append (tiny segment.bytes)
// makes no blocking file call (fsync, index or snapshot write) on the thread that appends, and does not
// stall another partition's appends on the same log dir. Also: the high watermark moves inside the log's
// write completion under the single-node policy, and only by its owner under the external one.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite(.serialized) struct RollOffCallerThreadTests {
    @Test(arguments: TestManagers.engines)
    func aPartitionRollingUnderLoadMakesNoBlockingCallOnTheAppendingThreadAndDoesNotStallOthers(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path, engine: engine)
        defer { manager.shutdown() }
        var tiny = LogConfig()
        tiny.segmentBytes = 300  // about one batch a segment: a roll on nearly every append
        tiny.indexIntervalBytes = 0
        let rolling = try manager.createLog(topic: "rolling", partition: 0, topicId: nil, config: tiny)
        let steady = try manager.createLog(topic: "steady", partition: 0, topicId: nil)
        let rollerAppends = 400
        let rollerCallsOnItsThread = Atomic<Int>(-1)
        let rollerErrors = Atomic<Int>(0)
        let finished = DispatchSemaphore(value: 0)
        CallerIOProbe.shared.start()
        defer { CallerIOProbe.shared.stop() }
        Thread {
            // An aborted transaction first: its .txnindex entry is queued like the index bytes.
            let transactional = TestBatches.simple(count: 2, producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true)
            let abort = TestBatches.marker(commit: false, producerId: 7, producerEpoch: 0)
            rolling.verifyTransaction(producerId: 7, epoch: 0)
            if (try? rolling.appendAndWait(records: transactional, leaderEpoch: 0)) == nil { rollerErrors.add(1, ordering: .relaxed) }
            if (try? rolling.appendAndWait(records: abort, leaderEpoch: 0, origin: .coordinator)) == nil {
                rollerErrors.add(1, ordering: .relaxed)
            }
            for _ in 0..<rollerAppends {
                // Every roll queues the old segment's index bytes and fsync and a producer snapshot.
                let batch = TestBatches.simple(count: 3, valueSize: 40)
                if (try? rolling.appendAndWait(records: batch, leaderEpoch: 0)) == nil { rollerErrors.add(1, ordering: .relaxed) }
            }
            rollerCallsOnItsThread.store(CallerIOProbe.shared.countOnCurrentThread(), ordering: .releasing)
            finished.signal()
        }.start()
        var latencies: [UInt64] = []
        for _ in 0..<200 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try steady.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
            latencies.append(DispatchTime.now().uptimeNanoseconds - start)
        }
        #expect(finished.wait(timeout: .now() + 120) == .success)
        #expect(rollerErrors.load(ordering: .relaxed) == 0)
        #expect(rolling.segmentBaseOffsets.count > rollerAppends / 2, "the partition rolled constantly")
        #expect(rollerCallsOnItsThread.load(ordering: .acquiring) == 0,
                "rolls made no fsync, index or snapshot write on the appending thread")
        latencies.sort()
        let p99 = latencies[latencies.count * 99 / 100]
        let worst = latencies[latencies.count - 1]
        // Generous bounds (a shared 2-core machine): an append waits for one group commit, not for rolls.
        // The slowest append only says nothing hung: one fdatasync behind another process's flush of
        // gigabytes takes seconds (sequential appends, so such a stall reaches one or two of them).
        #expect(p99 < 500_000_000, "p99 \(p99 / 1_000) µs")
        #expect(worst < 30_000_000_000, "max \(worst / 1_000) µs")
        // The snapshots written through the engine are on disk once the roller's appends are acknowledged.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/rolling-0")
        #expect(files.contains { $0.hasSuffix(".snapshot") })
        #expect(files.contains { $0.hasSuffix(".txnindex") })
        #expect(rolling.abortedTransactions(from: 0, to: rolling.logEndOffset).count == 1)
    }

    @Test func theHighWatermarkMovesInTheWriteCompletionAndTheListenerSeesIt() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "h", partition: 0, topicId: nil)
        let seen = Mutex<[Int64]>([])
        log.setAppendListener { log in seen.withLock { $0.append(log.highWatermark) } }
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        #expect(log.highWatermark == 3, "acknowledged only after the high watermark moved")
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        #expect(seen.withLock { $0 } == [3, 5], "the listener runs once per completion, after the move")
    }

    @Test func underTheExternalPolicyOnlyTheOwnerMovesTheHighWatermark() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "x", partition: 0, topicId: nil)
        log.highWatermarkPolicy = .external
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        #expect(log.highWatermark == 0 && log.logEndOffset == 5)
        #expect(try log.read(from: 0, maxBytes: 1 << 20).isEmpty)
        #expect(log.updateHighWatermark(3) == 3)
        let visible = TestBatches.headers(in: try log.read(from: 0, maxBytes: 1 << 20).readBytes())
        #expect(visible.map(\.baseOffset) == [0])
    }

    @Test func indexFilesReadBackThroughThePublicReader() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 0
        let manager = try TestManagers.make(dir.path, defaults: config)
        let log = try manager.createLog(topic: "i", partition: 0, topicId: nil)
        for _ in 0..<10 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
        manager.shutdown()
        let stem = dir.path + "/i-0/00000000000000000000"
        let index = try #require(FileManager.default.contents(atPath: stem + ".index"))
        let offsets = IndexFileFormat.offsetEntries(in: ByteBuffer(bytes: index))
        let expected: [Int32] = [3, 5, 7, 9, 11, 13, 15, 17, 19]
        #expect(offsets.map(\.relativeOffset) == expected)
        let timeIndex = try #require(FileManager.default.contents(atPath: stem + ".timeindex"))
        #expect(!IndexFileFormat.timeEntries(in: ByteBuffer(bytes: timeIndex)).isEmpty)
    }
}
