// Reads up to the written end: a leader's followers fetch what is written while it is still being
// fsynced (as Kafka's followers read the leader's page cache); consumers and the durable log end wait.
import Foundation
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct WrittenReadTests {
    @Test func writtenBytesAreReadableWithTheWrittenIsolationOnlyUntilTheyAreDurable() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "w", partition: 0, topicId: nil)
        let wakeups = Mutex(0)
        log.setWrittenListener { _ in wakeups.withLock { $0 += 1 } }
        faults.holdSyncs()
        let done = Mutex<Result<AppendResult, StorageError>?>(nil)
        log.append(records: TestBatches.simple(count: 4), leaderEpoch: 0) { result in done.withLock { $0 = result } }

        // Written, not durable: the written end moved, the durable end and the high watermark did not.
        let deadline = ContinuousClock.now + .seconds(10)
        while wakeups.withLock({ $0 }) == 0, ContinuousClock.now < deadline { usleep(500) }
        #expect(wakeups.withLock { $0 } == 1)
        #expect(log.logEndOffset == 0 && log.highWatermark == 0 && done.withLock { $0 } == nil)
        #expect(log.endOffset(forLeaderEpoch: 0) == (0, 4))
        let follower = try log.read(from: 0, maxBytes: 1 << 20, isolation: .written)
        #expect(follower.byteCount > 0)
        #expect(try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd).isEmpty)
        #expect(try log.read(from: 0, maxBytes: 1 << 20, isolation: .highWatermark).isEmpty)
        // A follower that already has them asks from offset 4: not out of range.
        #expect(try log.read(from: 4, maxBytes: 1 << 20, isolation: .written).isEmpty)
        #expect(throws: StorageError.self) { try log.read(from: 4, maxBytes: 1 << 20, isolation: .logEnd) }

        faults.releaseSyncs()
        while done.withLock({ $0 }) == nil, ContinuousClock.now < deadline { usleep(500) }
        #expect((try done.withLock { $0 }?.get())?.baseOffset == 0)
        #expect(log.logEndOffset == 4 && log.highWatermark == 4)
        let durable = try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(durable.byteCount == follower.byteCount)
    }

    @Test func unwrittenBytesCountAppendsUntilTheirWriteAndWrittenRunsBeforeTheCompletion() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "w", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(log.unwrittenBytes == 0)
        // Writes held: both appends count, in bytes (a replica fetcher stops running ahead on this).
        faults.hold()
        faults.holdSyncs()
        let events = Mutex<[String]>([])
        let first = TestBatches.simple(count: 3)
        let second = TestBatches.simple(count: 5)
        for (name, records) in [("a", first), ("b", second)] {
            let batches = try ValidatedBatches.validate(records, origin: .client, maxMessageBytes: 1 << 20)
            log.append(batches, leaderEpoch: 0, written: { events.withLock { $0.append("\(name) written") } }) { _ in
                events.withLock { $0.append("\(name) done") }
            }
        }
        #expect(log.unwrittenBytes == Int64(first.readableBytes + second.readableBytes))
        // Written, syncs still held: nothing unwritten, `written` ran for each, no completion yet.
        faults.release()
        let deadline = ContinuousClock.now + .seconds(10)
        while events.withLock({ $0.count }) < 2, ContinuousClock.now < deadline { usleep(500) }
        #expect(log.unwrittenBytes == 0)
        #expect(events.withLock { $0 } == ["a written", "b written"])
        faults.releaseSyncs()
        while events.withLock({ $0.count }) < 4, ContinuousClock.now < deadline { usleep(500) }
        #expect(events.withLock { $0 } == ["a written", "b written", "a done", "b done"])
    }

    @Test func aFailedWriteIsNeverReadableAsWritten() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "w", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        faults.failNextWrites([EIO])
        #expect(throws: StorageError.self) { try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0) }
        #expect(throws: StorageError.self) { try log.read(from: 3, maxBytes: 1 << 20, isolation: .written) }
        #expect(log.endOffset(forLeaderEpoch: 0).endOffset == 2)
    }
}
