// Many threads appending to several partitions at once: offsets are unique and contiguous, completions
// arrive in offset order per partition, and every acknowledged batch reads back.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct ConcurrencyTests {
    @Test(arguments: TestManagers.engines)
    func concurrentAppendsGetUniqueContiguousOffsetsAndOrderedCompletions(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 8_000
        let manager = try TestManagers.make(dir.path, engine: engine, defaults: config)
        defer { manager.shutdown() }
        let logs = try (0..<3).map { try manager.createLog(topic: "c", partition: Int32($0), topicId: nil) }
        let completions = Mutex<[Int: [Int64]]>([:])
        let group = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for index in 0..<150 {
                let partition = (thread + index) % logs.count
                group.enter()
                logs[partition].append(records: TestBatches.simple(count: 2), leaderEpoch: 0) { result in
                    if case let .success(appended) = result {
                        completions.withLock { $0[partition, default: []].append(appended.baseOffset) }
                    }
                    group.leave()
                }
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        let seen = completions.withLock { $0 }
        #expect(seen.values.reduce(0) { $0 + $1.count } == 600)
        for (partition, offsets) in seen {
            #expect(offsets == offsets.sorted(), "completions in offset order for partition \(partition)")
            #expect(offsets == Array(stride(from: Int64(0), to: Int64(offsets.count * 2), by: 2)))
            let log = logs[partition]
            #expect(log.logEndOffset == Int64(offsets.count * 2))
            #expect(log.recoveryPoint == log.logEndOffset)
        }
    }

    @Test func flushMsFlushesPageCacheAppendsFromTheScheduler() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.flushMessages = 1_000
        config.flushMs = 0
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        #expect(log.recoveryPoint == 0)
        manager.runBackgroundTasks(retention: false, cleaner: false)
        // One fdatasync, on a disk that may be busy with other tests' writes: a generous bound.
        let deadline = ContinuousClock.now + .seconds(30)
        while log.recoveryPoint < 3, ContinuousClock.now < deadline { usleep(1_000) }
        #expect(log.recoveryPoint == 3)
    }
}
