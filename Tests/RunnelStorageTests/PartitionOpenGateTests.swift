// Opening partitions outside the manager lock: a slow recovery does not block other partitions, and a
// partition that fails to open is offline for every caller that waited for it.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct PartitionOpenGateTests {
    @Test func aSlowPartitionOpenDoesNotBlockOpeningOtherPartitions() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            for partition in 0..<2 {
                let log = try manager.createLog(topic: "t", partition: Int32(partition), topicId: nil)
                _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
            }
            manager.shutdown()
        }
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir.path], ioEngine: .posix)
        configuration.openHook = { key in
            guard key.partition == 0 else { return }
            entered.signal()
            release.wait()
        }
        let manager = try LogManager(configuration: configuration)
        defer { manager.shutdown() }
        let results = Mutex<[PartitionLog?]>([])
        let done = DispatchGroup()
        for _ in 0..<2 {
            done.enter()
            Thread {
                let log = try? manager.log(topic: "t", partition: 0)
                results.withLock { $0.append(log) }
                done.leave()
            }.start()
        }
        #expect(entered.wait(timeout: .now() + 10) == .success, "partition 0's open started")
        // Partition 0 is stuck opening; partition 1 opens anyway, and the listing stays answerable.
        let other = try #require(try manager.log(topic: "t", partition: 1))
        #expect(other.logEndOffset == 3)
        #expect(manager.partitions.count == 2)
        #expect(results.withLock { $0.isEmpty }, "partition 0 is still opening")
        release.signal()
        #expect(done.wait(timeout: .now() + 10) == .success)
        let opened = results.withLock { $0 }.compactMap { $0 }
        #expect(opened.count == 2 && opened[0] === opened[1], "concurrent callers get the same log, opened once")
        #expect(opened.first?.logEndOffset == 3)
    }

    @Test func aPartitionThatFailsToOpenIsOfflineForEveryCaller() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            _ = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            manager.shutdown()
        }
        // A directory where the segment should be makes opening fail.
        try FileManager.default.removeItem(atPath: dir.path + "/t-0/00000000000000000000.log")
        try FileManager.default.createDirectory(atPath: dir.path + "/t-0/00000000000000000000.log", withIntermediateDirectories: false)
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        #expect(throws: StorageError.self) { try manager.log(topic: "t", partition: 0) }
        #expect(throws: StorageError.self) { try manager.log(topic: "t", partition: 0) }
        #expect(try manager.log(topic: "t", partition: 9) == nil)
    }
}
