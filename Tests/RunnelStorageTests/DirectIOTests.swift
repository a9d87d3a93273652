// The direct-I/O write path (`log.io.mode`): mode detection per log dir, a zero-padded or torn tail is
// the end of the log after a crash, closed segments are byte-identical to the buffered path's, and
// readers (through the page cache) read back exactly what was appended across tail-buffer boundaries.
import Foundation
import Synchronization
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct DirectIOTests {
    static func fileSize(_ path: String) throws -> Int64 { try FileSystem.fileSize(path) }

    static func segmentPath(_ dir: String, _ base: Int64 = 0) -> String {
        dir + "/t-0/" + LogSegment.fileName(base, ".log")
    }

    static func readAll(_ log: PartitionLog) throws -> [UInt8] {
        log.updateHighWatermark(log.logEndOffset)
        var bytes: [UInt8] = []
        var offset = log.logStartOffset
        while offset < log.logEndOffset {
            var chunk = try log.read(from: offset, maxBytes: 1 << 20).readBytes()
            let headers = TestBatches.headers(in: chunk)
            guard let last = headers.last else { break }
            offset = last.lastOffset + 1
            bytes.append(contentsOf: chunk.readBytes(length: chunk.readableBytes) ?? [])
        }
        return bytes
    }

    @Test func autoIsDirectOnExt4AndBufferedOnTmpfsAndBufferedIsNeverProbed() throws {
        let dir = TemporaryDirectory()
        #expect(DirectIO.resolve(.auto, path: dir.path).direct)
        #expect(DirectIO.resolve(.direct, path: dir.path).direct)
        #expect(!DirectIO.resolve(.buffered, path: dir.path).direct)
        #expect(!FileSystem.exists(dir.path + "/.runnel-direct-io-probe"), "the probe file is removed")
        // tmpfs: auto stays buffered (memory is the storage; Linux ≥ 6.6 would accept O_DIRECT there).
        let shm = "/dev/shm/runnel-dio-" + UUID().uuidString
        try FileSystem.makeDirectory(shm)
        defer { FileSystem.removeTree(shm) }
        let onTmpfs = DirectIO.resolve(.auto, path: shm)
        #expect(!onTmpfs.direct)
        #expect(onTmpfs.reason.contains("tmpfs"))
        // `direct` follows the probe: where the kernel refuses O_DIRECT on tmpfs the dir is unusable.
        if !DirectIO.resolve(.direct, path: shm).direct {
            #expect(throws: StorageError.self) { try TestManagers.make(shm, ioMode: .direct) }
        }
        let buffered = try TestManagers.make(shm, ioMode: .auto)
        defer { buffered.shutdown() }
        let log = try buffered.createLog(topic: "t", partition: 0, topicId: nil)
        #expect(try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0).lastOffset == 1)
    }

    @Test func aCrashBetweenAPaddedTailWriteAndItsRewriteRecoversTheAcknowledgedBatches() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path, ioMode: .direct)
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3), leaderEpoch: 0)
        let logical = log.size
        #expect(logical < Int64(DirectIO.block))
        // The acknowledged batch sits in a zero-padded block: the file is one whole block long.
        #expect(try Self.fileSize(Self.segmentPath(dir.path)) == Int64(DirectIO.block))
        manager.abandonForTesting()   // the crash: no rewrite of the block, no clean truncation

        let reopened = try TestManagers.make(dir.path, ioMode: .direct)
        let again = try #require(try reopened.log(topic: "t", partition: 0))
        #expect(again.logEndOffset == 3)
        #expect(try Self.fileSize(Self.segmentPath(dir.path)) == logical, "recovery cut the zero padding")
        // The tail is rebuilt from the file: the next append rewrites the block with both batches.
        #expect(try again.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0).baseOffset == 3)
        let bytes = try Self.readAll(again)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(TestBatches.crcsValid(buffer))
        #expect(TestBatches.headers(in: buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()).map(\.baseOffset) == [0, 3])
        reopened.shutdown()
        #expect(try Self.fileSize(Self.segmentPath(dir.path)) == again.size, "a clean close leaves the logical size")
    }

    @Test func aTornRewriteOfTheTailBlockIsTheEndOfTheLog() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path, ioMode: .direct)
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 4), leaderEpoch: 0)
        let logical = log.size
        manager.abandonForTesting()
        // The rewrite tore: half of the next batch's bytes landed after the acknowledged one, zeros after.
        var next = TestBatches.simple(count: 5, valueSize: 40)
        let half = next.readBytes(length: next.readableBytes / 2) ?? []
        let file = try LogFileHandle.open(Self.segmentPath(dir.path), create: false)
        try file.write([ByteBuffer(bytes: half)], at: logical)

        let reopened = try TestManagers.make(dir.path, ioMode: .direct)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "t", partition: 0))
        #expect(again.logEndOffset == 4)
        #expect(try Self.fileSize(Self.segmentPath(dir.path)) == logical)
        #expect(try again.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0).baseOffset == 4)
        #expect(TestBatches.crcsValid(ByteBuffer(bytes: try Self.readAll(again))))
    }

    /// The same appends (sizes from 60 bytes to past a tail buffer, so buffers are replaced mid-block) on
    /// both paths: the reads match byte for byte while open, and after a clean shutdown every segment and
    /// index file does too — with `preallocate` on the direct side.
    @Test func closedSegmentsAndReadsAreByteIdenticalToTheBufferedPath() throws {
        let buffered = TemporaryDirectory()
        let direct = TemporaryDirectory()
        var defaults = LogConfig()
        defaults.segmentBytes = 512 * 1024
        var preallocated = defaults
        preallocated.preallocate = true
        let paths: [(TemporaryDirectory, LogIOMode, LogConfig)] = [(buffered, .buffered, defaults), (direct, .direct, preallocated)]
        var reads: [[UInt8]] = []
        for (dir, mode, config) in paths {
            let manager = try TestManagers.make(dir.path, defaults: config, ioMode: mode)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for round in 0..<40 {
                let big = round % 10 == 9
                let count = big ? 7 : [1, 3, 17, 90][round % 4]
                let valueSize = big ? 40_000 : 50 + round * 13
                _ = try log.appendAndWait(records: TestBatches.simple(count: count, valueSize: valueSize), leaderEpoch: 0)
            }
            #expect(log.segmentBaseOffsets.count > 2, "the appends rolled segments")
            reads.append(try Self.readAll(log))
            manager.shutdown()
        }
        #expect(reads[0].count > 1 << 20)
        #expect(reads[0] == reads[1], "readers see the same bytes on both paths")
        let names = try FileSystem.list(buffered.path + "/t-0").filter { $0.hasSuffix(".log") || $0.hasSuffix("index") }.sorted()
        #expect(names.count >= 6)
        for name in names {
            let left = try #require(try FileSystem.readAll(buffered.path + "/t-0/" + name))
            let right = try #require(try FileSystem.readAll(direct.path + "/t-0/" + name))
            #expect(left == right, "\(name) differs between the buffered and the direct path")
        }
    }

    /// Many appends to four partitions queued into one engine round (the engine held), one of them larger
    /// than a tail buffer (so one partition's round has two runs over the same partial block, from two
    /// buffers, written in separate waves): every partition reads back what the buffered path holds.
    @Test(arguments: TestManagers.engines)
    func oneRoundOverManyPartitionsAndAReplacedBufferWritesEverythingInOrder(engine: IOEngineKind) throws {
        var reads: [LogIOMode: [[UInt8]]] = [:]
        for mode in [LogIOMode.buffered, .direct] {
            let dir = TemporaryDirectory()
            let faults = IOFaultInjector()
            let manager = try TestManagers.make(dir.path, engine: engine, faults: faults, ioMode: mode)
            defer { manager.shutdown() }
            let logs = try (0..<4).map { try manager.createLog(topic: "t", partition: Int32($0), topicId: nil) }
            let done = DispatchGroup()
            let failures = Mutex(0)
            faults.hold()
            for round in 0..<12 {
                for (index, log) in logs.enumerated() {
                    let big = round == 5 && index == 2
                    done.enter()
                    log.append(records: TestBatches.simple(count: big ? 8 : 1 + round % 5, valueSize: big ? 40_000 : 100 + 37 * index),
                               leaderEpoch: 0) { result in
                        if (try? result.get()) == nil { failures.withLock { $0 += 1 } }
                        done.leave()
                    }
                }
            }
            faults.release()
            #expect(done.wait(timeout: .now() + 60) == .success)
            #expect(failures.withLock { $0 } == 0)
            reads[mode] = try logs.map { try Self.readAll($0) }
        }
        #expect(reads[.direct] == reads[.buffered])
        #expect((reads[.direct]?[2].count ?? 0) > DirectIO.bufferBytes)
    }

    /// An idle partition gives its tail buffers back; the next append rebuilds the tail from the file.
    @Test func anIdleTailIsReleasedAndRebuiltFromTheFile() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let manager = try TestManagers.make(dir.path, clock: clock.function, ioMode: .direct)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3, valueSize: 700), leaderEpoch: 0)
        let hasTail = { log.state.withLock { $0.local.activeSegment.directTail != nil } }
        #expect(hasTail())
        clock.advance(DirectTail.idleReleaseMs - 1)
        manager.runBackgroundTasks()
        #expect(hasTail(), "not idle long enough")
        clock.advance(1)
        manager.runBackgroundTasks()
        #expect(!hasTail(), "released after log.io idle time")
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, valueSize: 700), leaderEpoch: 0)
        #expect(hasTail())
        let bytes = ByteBuffer(bytes: try Self.readAll(log))
        #expect(TestBatches.crcsValid(bytes))
        #expect(TestBatches.headers(in: bytes).map(\.baseOffset) == [0, 3])
    }

    /// Power loss on the direct path: an append whose O_DIRECT write reached the file but whose fdatasync
    /// had not run is not acknowledged; if the power fails then, the disk may hold only what was synced
    /// (the previous padded block). Recovery finds every acknowledged batch and nothing of the lost one.
    @Test func writesNotYetSyncedAreNeverAcknowledgedAndLosingThemLosesNothingAcknowledged() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try TestManagers.make(dir.path, faults: faults, ioMode: .direct)
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3, valueSize: 300), leaderEpoch: 0)
        let synced = log.size
        let path = Self.segmentPath(dir.path)
        let durableImage = try #require(try FileSystem.readAll(path))   // the acknowledged, padded block
        faults.holdSyncs()
        let acknowledged = Mutex(false)
        log.append(records: TestBatches.simple(count: 4, valueSize: 300), leaderEpoch: 0) { _ in
            acknowledged.withLock { $0 = true }
        }
        // Written (followers could read it) but not synced, so not acknowledged.
        var written = false
        for _ in 0..<5_000 where !written {
            written = ((try? log.read(from: 3, maxBytes: 1 << 20, isolation: .written))?.isEmpty == false)
            if !written { usleep(1_000) }
        }
        #expect(written)
        #expect(!acknowledged.withLock { $0 })
        faults.releaseSyncs()
        manager.abandonForTesting()
        // The power failed before that fdatasync: the disk holds the last synced image.
        let file = try LogFileHandle.open(path, create: false)
        try file.truncate(to: 0)
        try file.write([durableImage], at: 0)

        let reopened = try TestManagers.make(dir.path, ioMode: .direct)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "t", partition: 0))
        #expect(again.logEndOffset == 3)
        #expect(again.size == synced)
        let bytes = ByteBuffer(bytes: try Self.readAll(again))
        #expect(TestBatches.crcsValid(bytes))
        #expect(TestBatches.headers(in: bytes).map(\.baseOffset) == [0])
    }
}
