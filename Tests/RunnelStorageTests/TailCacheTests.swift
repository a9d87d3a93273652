// The direct path's tail cache (issue 16): fetches at the tail are answered from the aligned buffers
// the appends were copied into, never with bytes that are no longer the log's — after a follower
// truncation, a rollback of a failed append, retention, compaction and padded-tail rewrites (a rolled
// segment stays cached until its bytes change or the LRU evicts it) —
// and the cache stays within log.cache.max.bytes, least recently used chunk first out.
import Foundation
import Synchronization
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct TailCacheTests {
    static func make(_ dir: String, cacheBytes: Int = 64 << 20, defaults: LogConfig = LogConfig(),
                     faults: IOFaultInjector? = nil, clock: (@Sendable () -> Int64)? = nil) throws -> LogManager {
        // These tests count the cache in tail buffers of exactly DirectIO.bufferBytes; the process's pool
        // would hand out larger blocks other tests returned (the spread). Left at 1 for the process: the
        // storage tests check correctness, not the pool's reuse.
        AlignedMemoryPool.bufferSpread.store(1, ordering: .relaxed)
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir], ioEngine: .posix, defaults: defaults, ioMode: .direct)
        configuration.logCacheMaxBytes = cacheBytes
        configuration.faultInjector = faults
        if let clock { configuration.clock = clock }
        return try LogManager(configuration: configuration)
    }

    /// Reads the whole log from `from`, asserting each read's source; returns the bytes.
    static func readAll(_ log: PartitionLog, from start: Int64? = nil, isolation: FetchIsolation = .logEnd,
                        sources: inout [Bool]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var offset = start ?? log.logStartOffset
        let end = isolation == .written ? log.appendedEndOffset : log.logEndOffset
        while offset < end {
            let read = try log.read(from: offset, maxBytes: 300_000, isolation: isolation)
            sources.append(!read.buffers.isEmpty)
            var chunk = try read.readBytes()
            // Whole batches only (the last one may be cut at maxBytes, as Kafka does).
            let headers = TestBatches.headers(in: chunk)
            guard let last = headers.last else { break }
            offset = last.lastOffset + 1
            bytes.append(contentsOf: chunk.readBytes(length: headers.reduce(0) { $0 + $1.totalSize }) ?? [])
        }
        return bytes
    }

    /// The same bytes straight from the segment files (what the log holds on disk).
    static func fileBytes(_ log: PartitionLog) throws -> [UInt8] {
        try log.state.withLock { s throws in
            var out: [UInt8] = []
            for segment in s.local.segments {
                var bytes = try segment.logFile().read(at: 0, length: Int(segment.visibleSize))
                out.append(contentsOf: bytes.readBytes(length: bytes.readableBytes) ?? [])
            }
            return out
        }
    }

    static func batch(_ count: Int, _ valueSize: Int, seed: Int) -> ByteBuffer {
        TestBatches.batch((0..<count).map { TestRecord(key: nil, value: Array(repeating: UInt8(truncatingIfNeeded: seed &+ $0), count: valueSize), timestamp: 1_000) })
    }

    @Test func tailFetchesComeFromMemoryAndMatchTheFileAcrossBufferReplacementsAndPaddedRewrites() throws {
        let dir = TemporaryDirectory()
        let manager = try Self.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        // Small appends first (every one rewrites the padded last block), then buffer-sized ones.
        for round in 0..<60 {
            _ = try log.appendAndWait(records: Self.batch(round < 40 ? 1 + round % 3 : 9, round < 40 ? 37 + round : 30_000, seed: round),
                                      leaderEpoch: 0)
            var sources: [Bool] = []
            let fromCache = try Self.readAll(log, from: 0, sources: &sources)
            let onDisk = try Self.fileBytes(log)
            if fromCache != onDisk {
                let first = zip(fromCache, onDisk).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                Issue.record("round \(round): \(fromCache.count) vs \(onDisk.count) bytes, first difference at \(String(describing: first)), size \(log.size)")
            }
            #expect(sources.allSatisfy { $0 }, "everything written since the segment opened is cached (round \(round))")
        }
        #expect(log.size > Int64(3 * DirectIO.bufferBytes), "several tail buffers were filled")
        let tailCache = try #require(manager.tailCache)
        #expect(tailCache.bytes >= 3 * DirectIO.bufferBytes)
        // A follower reads the same bytes from the cache.
        var sources: [Bool] = []
        #expect(try Self.readAll(log, from: 0, isolation: .written, sources: &sources) == (try Self.fileBytes(log)))
        #expect(sources.allSatisfy { $0 })
    }

    @Test func slicesHandedOutKeepTheirBytesWhileTheTailMovesOn() throws {
        let dir = TemporaryDirectory()
        let manager = try Self.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: Self.batch(3, 500, seed: 1), leaderEpoch: 0)
        let held = try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(!held.buffers.isEmpty)
        let before = try held.readBytes()
        // Many buffer replacements (spares would be recycled) while the response is still "in flight".
        for round in 0..<30 { _ = try log.appendAndWait(records: Self.batch(8, 20_000, seed: round), leaderEpoch: 0) }
        try log.truncate(to: 3)
        _ = try log.appendAndWait(records: Self.batch(2, 700, seed: 99), leaderEpoch: 0)
        #expect(try held.readBytes() == before)
        #expect(TestBatches.crcsValid(before))
    }

    @Test func aFollowerTruncationNeverServesTheTruncatedBytes() throws {
        let dir = TemporaryDirectory()
        let manager = try Self.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for round in 0..<6 { _ = try log.appendAndWait(records: Self.batch(4, 9_000, seed: round), leaderEpoch: 0) }
        var sources: [Bool] = []
        _ = try Self.readAll(log, from: 0, sources: &sources)   // the old tail's chunks are looked at (served)
        try log.truncate(to: 12)
        #expect(log.logEndOffset == 12)
        // The same offsets again, with other bytes (a new leader's history).
        for round in 0..<3 { _ = try log.appendAndWait(records: Self.batch(5, 9_000, seed: 100 + round), leaderEpoch: 0) }
        sources = []
        let read = try Self.readAll(log, from: 0, sources: &sources)
        #expect(read == (try Self.fileBytes(log)))
        let headers = TestBatches.headers(in: ByteBuffer(bytes: read))
        #expect(headers.map(\.baseOffset) == [0, 4, 8, 12, 17, 22])
        #expect(TestBatches.crcsValid(ByteBuffer(bytes: read)))
        // The last batch comes from the new tail (cached), not the dropped one.
        let last = try log.read(from: 22, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(!last.buffers.isEmpty)
        #expect(try last.readBytes() == ByteBuffer(bytes: Array(read.suffix(try last.readBytes().readableBytes))))
        // Fully truncated (a follower far behind a new leader): the cache holds nothing of the old log.
        try log.truncateFullyAndStart(at: 50)
        _ = try log.appendAndWait(records: Self.batch(2, 100, seed: 7), leaderEpoch: 0, origin: .client)
        let fresh = try log.read(from: 50, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(!fresh.buffers.isEmpty)
        #expect(TestBatches.headers(in: try fresh.readBytes()).map(\.baseOffset) == [50])
    }

    @Test func aRolledBackAppendIsNeverServed() throws {
        let dir = TemporaryDirectory()
        let faults = IOFaultInjector()
        let manager = try Self.make(dir.path, faults: faults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: Self.batch(2, 300, seed: 1), leaderEpoch: 0)
        faults.failNextWrites([ENOSPC])
        #expect(throws: StorageError.self) { try log.appendAndWait(records: Self.batch(3, 300, seed: 2), leaderEpoch: 0) }
        #expect(log.logEndOffset == 2)
        #expect(try log.read(from: 2, maxBytes: 1 << 20, isolation: .written).isEmpty, "the failed bytes are not readable")
        _ = try log.appendAndWait(records: Self.batch(1, 300, seed: 3), leaderEpoch: 0)
        var sources: [Bool] = []
        let read = try Self.readAll(log, from: 0, sources: &sources)
        #expect(read == (try Self.fileBytes(log)))
        #expect(TestBatches.headers(in: ByteBuffer(bytes: read)).map { $0.lastOffset - $0.baseOffset + 1 } == [2, 1])
        #expect(sources.allSatisfy { $0 })
    }

    @Test func rolledSegmentsStayCachedUntilTheirBytesChangeOrTheyAreEvicted() throws {
        let dir = TemporaryDirectory()
        var defaults = LogConfig()
        defaults.segmentBytes = 200_000
        let manager = try Self.make(dir.path, defaults: defaults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for round in 0..<12 { _ = try log.appendAndWait(records: Self.batch(3, 15_000, seed: round), leaderEpoch: 0) }
        let bases = log.segmentBaseOffsets
        #expect(bases.count >= 3)
        // Readers just behind a roll (tail consumers, followers) read the rolled segments from memory.
        var sources: [Bool] = []
        #expect(try Self.readAll(log, from: 0, sources: &sources) == (try Self.fileBytes(log)))
        #expect(sources.allSatisfy { $0 }, "rolled segments are still cached")
        // A follower truncation into a rolled segment: its cached bytes are dropped with the segments after
        // it, the same offsets come again with other bytes, and every read matches the files.
        try log.truncate(to: bases[1] + 1)
        for round in 0..<4 { _ = try log.appendAndWait(records: Self.batch(2, 15_000, seed: 100 + round), leaderEpoch: 0) }
        sources = []
        let read = try Self.readAll(log, from: 0, sources: &sources)
        #expect(read == (try Self.fileBytes(log)))
        #expect(TestBatches.crcsValid(ByteBuffer(bytes: read)))
        #expect(!(try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)).buffers.isEmpty,
                "the first segment's bytes did not change: still cached")
    }

    @Test func evictedRolledSegmentsAreReadFromTheFile() throws {
        let dir = TemporaryDirectory()
        var defaults = LogConfig()
        defaults.segmentBytes = 200_000
        // Room for two tails' buffers: the oldest rolled segments' chunks go first.
        let manager = try Self.make(dir.path, cacheBytes: 2 * DirectIO.bufferBytes, defaults: defaults)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for round in 0..<16 { _ = try log.appendAndWait(records: Self.batch(3, 15_000, seed: round), leaderEpoch: 0) }
        #expect(log.segmentBaseOffsets.count >= 4)
        var sources: [Bool] = []
        #expect(try Self.readAll(log, from: 0, sources: &sources) == (try Self.fileBytes(log)))
        #expect(sources.first == false, "the oldest segment was evicted: read from the file")
        let active = try #require(log.segmentBaseOffsets.last)
        #expect(!(try log.read(from: active, maxBytes: 1 << 20, isolation: .logEnd)).buffers.isEmpty)
    }

    @Test func retentionAndCompactionLeaveOnlyTheLogsBytesReadable() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(10_000_000)
        var defaults = LogConfig()
        defaults.segmentBytes = 64 * 1024
        defaults.retentionMs = 60_000
        let manager = try Self.make(dir.path, defaults: defaults, clock: clock.function)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        for round in 0..<6 {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 4, timestamp: clock.now, valueSize: 9_000 + round), leaderEpoch: 0)
        }
        // Everything expires: the active segment is rolled away first, then deleted; nothing stale is served.
        clock.advance(120_000)
        _ = try log.applyRetention()
        #expect(log.logStartOffset == log.logEndOffset)
        #expect(throws: StorageError.self) { try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd) }
        let next = try log.appendAndWait(records: TestBatches.simple(count: 2, timestamp: clock.now, valueSize: 50), leaderEpoch: 0)
        let read = try log.read(from: next.baseOffset, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(!read.buffers.isEmpty)
        #expect(TestBatches.headers(in: try read.readBytes()).map(\.baseOffset) == [next.baseOffset])

        // Compaction rewrites closed segments only; reads across it match the files.
        let compacted = TemporaryDirectory()
        var compact = LogConfig()
        compact.segmentBytes = 16 * 1024
        compact.cleanupPolicy = .compact
        compact.minCleanableDirtyRatio = 0
        let other = try Self.make(compacted.path, defaults: compact)
        defer { other.shutdown() }
        let keyed = try other.createLog(topic: "t", partition: 0, topicId: nil, config: compact)
        for round in 0..<60 {
            let record = TestRecord(key: Array("k\(round % 5)".utf8), value: Array(repeating: UInt8(round), count: 900), timestamp: 1_000)
            _ = try keyed.appendAndWait(records: TestBatches.batch([record]), leaderEpoch: 0)
        }
        #expect(try keyed.compactIfDirty(force: true) != nil)
        var sources: [Bool] = []
        let bytes = try Self.readAll(keyed, from: 0, sources: &sources)
        #expect(bytes == (try Self.fileBytes(keyed)))
        #expect(TestBatches.crcsValid(ByteBuffer(bytes: bytes)))
        #expect(sources.last == true, "the active segment's tail is still served from memory")
    }

    @Test func theCacheIsBoundedAndEvictsTheLeastRecentlyUsedChunk() throws {
        let dir = TemporaryDirectory()
        let limit = 3 * DirectIO.bufferBytes
        let manager = try Self.make(dir.path, cacheBytes: limit)
        defer { manager.shutdown() }
        let cache = try #require(manager.tailCache)
        let logs = try (0..<3).map { try manager.createLog(topic: "t", partition: Int32($0), topicId: nil) }
        for log in logs { _ = try log.appendAndWait(records: Self.batch(2, 500, seed: 1), leaderEpoch: 0) }
        #expect(cache.bytes == limit)
        // Partition 0 was used most recently; partition 1's chunk is the oldest.
        #expect(!(try logs[0].read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)).buffers.isEmpty)
        // Partition 2 fills a second buffer: one chunk must go — partition 1's.
        for round in 0..<3 { _ = try logs[2].appendAndWait(records: Self.batch(4, 30_000, seed: round), leaderEpoch: 0) }
        #expect(cache.bytes <= limit)
        let evicted = try logs[1].read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(evicted.buffers.isEmpty, "the least recently used chunk was evicted: read from the file")
        #expect(TestBatches.headers(in: try evicted.readBytes()).map(\.baseOffset) == [0])
        #expect(!(try logs[0].read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)).buffers.isEmpty)
        var sources: [Bool] = []
        #expect(try Self.readAll(logs[2], from: 0, sources: &sources) == (try Self.fileBytes(logs[2])))
        // Dropping a tail (deletion) gives its chunks back.
        let before = cache.bytes
        try manager.deleteLog(topic: "t", partition: 2)
        #expect(cache.bytes < before)
    }

    @Test func zeroDisablesTheCacheAndBufferedLogDirsHaveNone() throws {
        let dir = TemporaryDirectory()
        let manager = try Self.make(dir.path, cacheBytes: 0)
        defer { manager.shutdown() }
        #expect(manager.tailCache == nil)
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: Self.batch(2, 500, seed: 1), leaderEpoch: 0)
        let read = try log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd)
        #expect(read.buffers.isEmpty && !read.slices.isEmpty)
        let buffered = TemporaryDirectory()
        var configuration = LogManagerConfiguration.standalone(logDirs: [buffered.path], ioEngine: .posix, ioMode: .buffered)
        configuration.logCacheMaxBytes = 1 << 20
        let other = try LogManager(configuration: configuration)
        defer { other.shutdown() }
        let plain = try other.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try plain.appendAndWait(records: Self.batch(2, 500, seed: 1), leaderEpoch: 0)
        #expect(try plain.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd).buffers.isEmpty)
    }
}
