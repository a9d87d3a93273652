// Gaps closed in session 2: offsets by timestamp inside compressed batches (every codec), opening
// partitions without holding the manager lock (a slow recovery does not block other partitions), index
// entries written behind yet complete after a clean shutdown, and reads scanning outside the partition lock.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct CompressedTimestampLookupTests {
    /// A compressed batch of `count` records with timestamps `timestamp + 10 i`.
    static func compressed(_ codec: CompressionCodec, count: Int, timestamp: Int64) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: codec)
        for index in 0..<count {
            builder.append(key: "k\(index)", value: String(repeating: "v", count: 50), timestamp: timestamp + Int64(index) * 10)
        }
        return try builder.build()
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func offsetByTimestampFindsTheExactRecordInsideACompressedBatch(codec: CompressionCodec) throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "z", partition: 0, topicId: nil)
        // Batch b holds offsets 8b..8b+7 with timestamps 1_000 b + 0, 10, …, 70.
        for batch in 0..<4 {
            _ = try log.appendAndWait(records: try Self.compressed(codec, count: 8, timestamp: Int64(batch) * 1_000), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        let found = try #require(try log.offset(forTimestamp: 2_035))
        #expect(found.offset == 20 && found.timestamp == 2_040, "the first record at or after T, not the batch's first offset")
        #expect(try log.offset(forTimestamp: 2_000)?.offset == 16)
        #expect(try log.offset(forTimestamp: 1_071)?.offset == 16, "past a batch's last record: the next batch")
        #expect(try log.offset(forTimestamp: 3_070)?.offset == 31)
        #expect(try log.offset(forTimestamp: 3_071) == nil)
        let max = try #require(try log.offset(forTimestamp: -3))
        #expect(max.offset == 31 && max.timestamp == 3_070, "max timestamp names its record inside the batch")
    }

    @Test func offsetByTimestampInACompressedBatchRespectsTheLogStartOffset() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "z", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: try Self.compressed(.zstd, count: 8, timestamp: 0), leaderEpoch: 0)
        log.updateHighWatermark(8)
        try log.deleteRecords(before: 5)
        #expect(try log.offset(forTimestamp: 0)?.offset == 5)
        #expect(try log.offset(forTimestamp: 0)?.timestamp == 50)
    }

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
        var configuration = LogManagerConfiguration(logDirs: [dir.path])
        configuration.backgroundThreadEnabled = false
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

    @Test func indexEntriesAreWrittenBehindAndCompleteAfterACleanShutdown() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 0  // an index entry for every batch after the first
        config.flushMessages = .max
        let index = dir.path + "/t-0/00000000000000000000.index"
        do {
            let manager = try TestManagers.make(dir.path, defaults: config)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for _ in 0..<300 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
            let written = try #require(try FileManager.default.attributesOfItem(atPath: index)[.size] as? Int)
            #expect(written == OffsetIndex.writeBehind * OffsetIndex.entrySize, "entries go to the file in groups")
            manager.shutdown()
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: index)[.size] as? Int)
        #expect(size == 299 * OffsetIndex.entrySize, "a clean shutdown writes the rest")
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        log.updateHighWatermark(log.logEndOffset)
        for offset in [Int64(0), 1, 257, 511, 599] {
            let first = TestBatches.headers(in: try log.read(from: offset, maxBytes: 1).readBytes()).first
            #expect(first?.baseOffset == offset - offset % 2)
        }
    }

    @Test(arguments: TestManagers.engines)
    func readsScanningOutsideTheLockReturnTheBatchHoldingTheOffsetWhileAppendsAndTruncationsRace(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.flushMessages = .max
        config.indexIntervalBytes = 256
        let manager = try TestManagers.make(dir.path, engine: engine, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "r", partition: 0, topicId: nil)
        for _ in 0..<100 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
        log.updateHighWatermark(log.logEndOffset)
        let stop = Atomic<Bool>(false)
        let generation = Atomic<Int>(0)  // odd while a truncation runs
        let problems = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        let readers = DispatchGroup()
        for seed in 0..<2 {
            readers.enter()
            Thread {
                var random = UInt64(seed + 1)
                while !stop.load(ordering: .relaxed) {
                    random = random &* 6364136223846793005 &+ 1442695040888963407
                    let end = max(log.highWatermark, 1)
                    let offset = Int64((random >> 33) % UInt64(end))
                    // A slice read after a truncation may show the re-appended bytes: such reads are skipped.
                    let before = generation.load(ordering: .acquiring)
                    guard before % 2 == 0, let result = try? log.read(from: offset, maxBytes: 2_000),
                          let first = result.firstBatchOffset, let bytes = try? result.readBytes(),
                          generation.load(ordering: .acquiring) == before,
                          let header = RecordBatchHeader(from: bytes, at: bytes.readerIndex) else { continue }
                    reads.add(1, ordering: .relaxed)
                    if header.baseOffset != first || header.lastOffset < offset || first > offset {
                        problems.withLock { $0.append("offset \(offset): batch \(header.baseOffset)...\(header.lastOffset), named \(first)") }
                    }
                }
                readers.leave()
            }.start()
        }
        // Truncate and re-append with a different batch size, so stale positions would name wrong batches.
        for round in 0..<6 {
            generation.add(1, ordering: .releasing)
            try log.truncate(to: 50 + Int64(round) * 7)
            generation.add(1, ordering: .releasing)
            for _ in 0..<60 {
                _ = try log.appendAndWait(records: TestBatches.simple(count: round % 2 == 0 ? 3 : 2), leaderEpoch: 0)
            }
            log.updateHighWatermark(log.logEndOffset)
        }
        stop.store(true, ordering: .relaxed)
        #expect(readers.wait(timeout: .now() + 30) == .success)
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(problems.withLock { $0 } == [])
    }
}
