// Fault behaviour: failed writes (injected, or ENOSPC on a tiny tmpfs) fail only their append, never
// leave a partial batch readable, take a log dir offline when persistent, and corrupt files at open take
// only that partition offline.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct FaultTests {
    @Test(arguments: TestManagers.engines)
    func aFailedWriteFailsThatAppendAndTheLogContinuesAfterIt(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, engine: engine, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)
        faults.failNextWrites([ENOSPC])
        #expect(throws: StorageError.io(operation: "write", path: dir.path + "/t-0/00000000000000000000.log", errno: ENOSPC)) {
            try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        }
        #expect(log.logEndOffset == 2)
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(next.baseOffset == 2)
        log.updateHighWatermark(3)
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        #expect(TestBatches.headers(in: bytes).map(\.baseOffset) == [0, 2])
        #expect(TestBatches.crcsValid(bytes))
        #expect(manager.offlineLogDirs.isEmpty)
    }

    @Test func appendsQueuedBehindAFailedWriteFailTooAndAreRolledBack() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        faults.failNextWrites([ENOSPC], after: 1)
        let outcomes = Mutex<[Int: Bool]>([:])
        // Queue all six before the engine runs, so appends 2...5 really are queued behind the failure.
        faults.hold()
        for index in 0..<6 {
            log.append(records: TestBatches.simple(count: 1), leaderEpoch: 0) { result in
                outcomes.withLock { $0[index] = (try? result.get()) != nil }
            }
        }
        faults.release()
        for _ in 0..<5_000 where outcomes.withLock({ $0.count }) < 6 { usleep(1_000) }
        let seen = outcomes.withLock { $0 }
        #expect(seen.count == 6)
        let firstFailure = try #require((0..<6).first { seen[$0] == false })
        #expect((firstFailure..<6).allSatisfy { seen[$0] == false })
        #expect(log.logEndOffset == Int64(firstFailure))
        let next = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        #expect(next.baseOffset == Int64(firstFailure))
    }

    @Test func persistentIOErrorsTakeTheLogDirOfflineWhileOtherDirsKeepServing() throws {
        let first = TemporaryDirectory()
        let second = TemporaryDirectory()
        let faults = IOFaultInjector()
        var configuration = LogManagerConfiguration.standalone(logDirs: [first.path], ioEngine: .posix)
        configuration.faultInjector = faults
        let broken = try LogManager(configuration: configuration)
        defer { broken.shutdown() }
        let healthy = try TestManagers.make(second.path)
        defer { healthy.shutdown() }
        let log = try broken.createLog(topic: "t", partition: 0, topicId: nil)
        let other = try healthy.createLog(topic: "t", partition: 1, topicId: nil)
        faults.failNextWrites([EIO])
        #expect(throws: StorageError.self) { try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0) }
        #expect(broken.offlineLogDirs == [first.path])
        #expect(throws: StorageError.logDirOffline(path: first.path)) {
            try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)
        }
        #expect(log.offlineReason != nil)
        #expect(try other.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0).baseOffset == 0)
    }

    @Test func aCorruptLeaderEpochOrSnapshotNeverCrashesAndACorruptLogDirectoryTakesOnlyThatPartitionOffline() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            let a = try manager.createLog(topic: "a", partition: 0, topicId: nil)
            let b = try manager.createLog(topic: "b", partition: 0, topicId: nil)
            _ = try a.appendAndWait(records: TestBatches.simple(count: 2, producerId: 1, producerEpoch: 0, baseSequence: 0), leaderEpoch: 1)
            _ = try b.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 1)
            manager.shutdown()
        }
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/a-0/leader-epoch-checkpoint"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir.path + "/a-0/00000000000000000002.snapshot"))
        // Partition b: its segment is replaced by a directory, which cannot be opened as a file.
        try FileManager.default.removeItem(atPath: dir.path + "/b-0/00000000000000000000.log")
        try FileManager.default.createDirectory(atPath: dir.path + "/b-0/00000000000000000000.log", withIntermediateDirectories: false)
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let a = try #require(try manager.log(topic: "a", partition: 0))
        #expect(a.logEndOffset == 2)
        #expect(a.producerState(for: 1)?.lastSequence == 1)
        #expect(throws: StorageError.self) { try manager.log(topic: "b", partition: 0) }
        #expect(try a.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 1).baseOffset == 2)
    }

    /// True when this machine lets the tests mount a tmpfs (root with CAP_SYS_ADMIN).
    static let canMountTmpfs: Bool = {
        let dir = TemporaryDirectory()
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir.path]) == 0 else { return false }
        _ = run("/bin/umount", [dir.path])
        return true
    }()

    @Test(.enabled(if: FaultTests.canMountTmpfs, "needs permission to mount a tmpfs"))
    func diskFullOnATinyTmpfsFailsTheAppendWithoutAPartialBatch() throws {
        let dir = TemporaryDirectory()
        let mountPoint = dir.path + "/tmpfs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=96k", "tmpfs", mountPoint]) == 0)
        defer { _ = Self.run("/bin/umount", [mountPoint]) }
        let manager = try TestManagers.make(mountPoint)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        var failure: StorageError?
        for _ in 0..<200 {
            do throws(StorageError) {
                _ = try log.appendAndWait(records: TestBatches.simple(count: 4, valueSize: 1_000), leaderEpoch: 0)
            } catch {
                failure = error
                break
            }
        }
        switch failure {
        case .io?, .logDirOffline?, .partitionOffline?: break
        default: Issue.record("expected an I/O failure, got \(String(describing: failure))")
        }
        log.updateHighWatermark(log.logEndOffset)
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        let headers = TestBatches.headers(in: bytes)
        #expect(Int64(headers.count * 4) == log.logEndOffset)
        #expect(TestBatches.crcsValid(bytes))
        #expect(bytes.readableBytes == headers.reduce(0) { $0 + $1.totalSize })
    }

    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
