// Compaction: latest value per key, offsets kept, tombstones and markers after delete.retention.ms,
// aborted transactions removed, min.compaction.lag.ms, dirty ratio, merging small segments, restart
// after a swap (also one interrupted half way).
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct CompactionTests {
    static func keyed(_ key: String, _ value: String?, at timestamp: Int64) -> TestRecord {
        TestRecord(key: Array(key.utf8), value: value.map { Array($0.utf8) }, timestamp: timestamp)
    }

    /// (offset, key, value) of every record readable from the log.
    static func contents(_ log: PartitionLog) throws -> [(Int64, String, String?)] {
        log.updateHighWatermark(log.logEndOffset)
        var found: [(Int64, String, String?)] = []
        var offset = log.logStartOffset
        while offset < log.logEndOffset {
            let bytes = try log.read(from: offset, maxBytes: 1 << 20).readBytes()
            #expect(TestBatches.crcsValid(bytes))
            var index = bytes.readerIndex
            guard let first = RecordBatchHeader(from: bytes, at: index) else { break }
            var last = first.lastOffset
            while let header = RecordBatchHeader(from: bytes, at: index), index + header.totalSize <= bytes.writerIndex {
                for record in CompactionFilter.records(in: bytes, at: index, header: header) ?? [] where record.offset >= offset {
                    let value: String? = record.isTombstone ? nil : "v"
                    found.append((record.offset, String(decoding: record.key ?? [], as: UTF8.self), value))
                }
                last = header.lastOffset
                index += header.totalSize
            }
            offset = last + 1
        }
        return found
    }

    static func compactedLog(_ dir: TemporaryDirectory, clock: TestClock, lagMs: Int64 = 0) throws -> (LogManager, PartitionLog) {
        var config = LogConfig()
        config.cleanupPolicy = .compact
        config.segmentBytes = 400
        config.deleteRetentionMs = 10_000
        config.minCompactionLagMs = lagMs
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        return (manager, try manager.createLog(topic: "c", partition: 0, topicId: nil))
    }

    @Test func compactionKeepsTheLatestRecordPerKeyWithTheirOriginalOffsets() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        for round in 0..<10 {
            let records = (0..<3).map { Self.keyed("k\($0)", "value-\(round)-\($0)", at: 1_000_000) }
            _ = try log.appendAndWait(records: TestBatches.batch(records), leaderEpoch: 0)
        }
        #expect(log.segmentBaseOffsets.count > 3)
        log.updateHighWatermark(log.logEndOffset)
        let before = try Self.contents(log)
        let stats = try #require(try log.compactIfDirty())
        #expect(stats.recordsRemoved > 0 && stats.bytesAfter < stats.bytesBefore)
        let after = try Self.contents(log)
        let activeBase = try #require(log.segmentBaseOffsets.last)
        // Below the active segment only the latest offset of each key remains.
        let latest = Dictionary(before.map { ($0.1, $0.0) }, uniquingKeysWith: max)
        for (offset, key, _) in after where offset < activeBase {
            #expect(latest[key] == offset || before.contains { $0.1 == key && $0.0 > offset && $0.0 >= activeBase })
        }
        #expect(Set(after.map(\.1)) == ["k0", "k1", "k2"])
        #expect(after.count < before.count)
        #expect(log.logEndOffset == 30)
        // Nothing more to clean: the dirty part is gone.
        #expect(try log.compactIfDirty() == nil)
        manager.shutdown()
        let reopened = try TestManagers.make(dir.path)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "c", partition: 0))
        #expect(try Self.contents(again).map(\.0) == after.map(\.0))
    }

    /// (offset, key, value, codec of its batch) of every record readable from the log, compressed or not.
    static func decoded(_ log: PartitionLog) throws -> [(Int64, String, String?, CompressionCodec?)] {
        log.updateHighWatermark(log.logEndOffset)
        var found: [(Int64, String, String?, CompressionCodec?)] = []
        var offset = log.logStartOffset
        while offset < log.logEndOffset {  // a read returns one segment's batches
            let bytes = try log.read(from: offset, maxBytes: 1 << 20).readBytes()
            #expect(TestBatches.crcsValid(bytes))
            var index = bytes.readerIndex
            var next = offset
            while let header = RecordBatchHeader(from: bytes, at: index), index + header.totalSize <= bytes.writerIndex {
                let batch = try RecordBatch(try #require(bytes.getSlice(at: index, length: header.totalSize)))
                for record in try batch.records() where record.offset >= offset {
                    found.append((record.offset, record.key.map { String(buffer: $0) } ?? "",
                                  record.value.map { String(buffer: $0) }, header.compression))
                }
                next = header.lastOffset + 1
                index += header.totalSize
            }
            guard next > offset else { break }
            offset = next
        }
        return found
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func compressedBatchesAreCleanedRecordByRecordAndKeepTheirCodec(codec: CompressionCodec) throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        // The first round uncompressed, the rest compressed: the offset map must know the keys inside
        // compressed batches to clean the uncompressed round too.
        for round in 0..<12 {
            // k0 and k1 in every batch, plus a key of its own: an older batch loses k0 and k1 but keeps
            // its own key, so it is rebuilt (and recompressed) rather than dropped.
            let records = ["k0", "k1", "u\(round)"].map { Self.keyed($0, "value-\(round)-\($0)", at: 1_000_000) }
            var batch = TestBatches.batch(records)
            if round > 0 {
                batch = try RecordBatchRecompressor.recompress(try RecordBatch(batch), to: codec, options: .init())
            }
            _ = try log.appendAndWait(records: batch, leaderEpoch: 0)
        }
        #expect(log.segmentBaseOffsets.count > 3)
        let before = try Self.decoded(log)
        #expect(before.count == 36)
        let stats = try #require(try log.compactIfDirty())
        #expect(stats.recordsRemoved > 0)
        let after = try Self.decoded(log)
        let activeBase = try #require(log.segmentBaseOffsets.last)
        let latest = Dictionary(before.map { ($0.1, $0.0) }, uniquingKeysWith: max)
        let original = Dictionary(uniqueKeysWithValues: before.map { ($0.0, $0) })
        for (offset, key, value, batchCodec) in after {
            // Every surviving record is unchanged (offset, key, value) …
            #expect(original[offset]?.1 == key && original[offset]?.2 == value)
            // … below the active segment it is its key's latest (or only superseded inside the active one) …
            if offset < activeBase {
                #expect(latest[key] == offset || before.contains { $0.1 == key && $0.0 > offset && $0.0 >= activeBase })
            }
            // … and sits in a batch with the codec it was written with.
            #expect(batchCodec == original[offset]?.3)
        }
        #expect(after.count < before.count)
        #expect(Set(after.map(\.1)) == Set(["k0", "k1"] + (0..<12).map { "u\($0)" }))
        #expect(after.contains { $0.0 == 33 && $0.2 == "value-11-k0" })
        // Round 5's batch (offsets 15-17) was cleaned inside: its own key stays, k0 and k1 are gone.
        #expect(after.contains { $0.0 == 17 && $0.1 == "u5" && $0.3 == codec })
        #expect(!after.contains { $0.0 == 15 || $0.0 == 16 })
        #expect(log.logEndOffset == 36)
    }

    @Test func tombstonesAreRemovedOnlyAfterDeleteRetentionMs() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("a", "1", at: 1_000_000), Self.keyed("b", "1", at: 1_000_000)]), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("a", nil, at: 1_000_000)]), leaderEpoch: 0)
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("filler\(index % 2)", String(repeating: "x", count: 60), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        var keys = try Self.contents(log)
        #expect(keys.contains { $0.1 == "a" && $0.2 == nil }, "a recent tombstone stays")
        #expect(!keys.contains { $0.1 == "a" && $0.2 != nil })
        // Its batch now carries a delete horizon (clean time + delete.retention.ms); record timestamps are kept.
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        let stamped = try #require(TestBatches.headers(in: bytes).first { $0.hasDeleteHorizon })
        #expect(stamped.baseTimestamp == 1_010_000)
        #expect(try log.offset(for: .timestamp(1_000_000))?.offset == 1, "a@0 was compacted away; b@1 is the first record")
        clock.advance(20_000)
        // New dirty data (rolled out of the active segment) triggers the next pass.
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("new\(index % 2)", String(repeating: "y", count: 60), at: 1_020_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        keys = try Self.contents(log)
        #expect(!keys.contains { $0.1 == "a" }, "an old tombstone is gone")
        #expect(keys.contains { $0.1 == "b" })
    }

    @Test func abortedTransactionalRecordsAreRemovedAndMarkersKept() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        let aborted = TestBatches.batch([Self.keyed("t", "aborted", at: 1_000_000)], producerId: 3, producerEpoch: 0,
                                        baseSequence: 0, transactional: true)
        log.verifyTransaction(producerId: 3, epoch: 0)
        _ = try log.appendAndWait(records: aborted, leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 3, producerEpoch: 0), leaderEpoch: 0, origin: .coordinator)
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("f\(index)", String(repeating: "x", count: 60), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        try log.compactIfDirty(force: true)
        let keys = try Self.contents(log)
        #expect(!keys.contains { $0.1 == "t" })
        log.updateHighWatermark(log.logEndOffset)
        let bytes = try log.read(from: 0, maxBytes: 1 << 20).readBytes()
        #expect(TestBatches.headers(in: bytes).contains { $0.isControl && $0.baseOffset == 1 })
        #expect(log.abortedTransactions(from: 0, to: 10).map(\.producerId) == [3])
    }

    @Test func recordsYoungerThanMinCompactionLagAreNotCompacted() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock, lagMs: 60_000)
        defer { manager.shutdown() }
        for round in 0..<8 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("k", "value-\(round)-" + String(repeating: "x", count: 80), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        #expect(try log.compactIfDirty(force: true) == nil)
        clock.advance(120_000)
        #expect(try log.compactIfDirty(force: true)?.recordsRemoved ?? 0 > 0)
    }

    @Test func markersGoAfterDeleteRetentionOnceTheirTransactionHasNoDataLeft() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        defer { manager.shutdown() }
        // Producer 3 aborts (its data goes at the first cleaning); producer 4 commits a record that stays.
        log.verifyTransaction(producerId: 3, epoch: 0)
        log.verifyTransaction(producerId: 4, epoch: 0)
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("t", "aborted", at: 1_000_000)], producerId: 3,
                                                            producerEpoch: 0, baseSequence: 0, transactional: true), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 3, producerEpoch: 0), leaderEpoch: 0, origin: .coordinator)
        _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("kept", "committed", at: 1_000_000)], producerId: 4,
                                                            producerEpoch: 0, baseSequence: 0, transactional: true), leaderEpoch: 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: true, producerId: 4, producerEpoch: 0), leaderEpoch: 0, origin: .coordinator)
        for index in 0..<12 {
            _ = try log.appendAndWait(records: TestBatches.batch([Self.keyed("f\(index)", String(repeating: "x", count: 60), at: 1_000_000)]), leaderEpoch: 0)
        }
        log.updateHighWatermark(log.logEndOffset)
        func controlBatches() throws -> [RecordBatchHeader] {
            log.updateHighWatermark(log.logEndOffset)
            return TestBatches.headers(in: try log.read(from: 0, maxBytes: 1 << 20).readBytes()).filter(\.isControl)
        }
        try log.compactIfDirty(force: true)
        var markers = try controlBatches()
        #expect(markers.map(\.baseOffset) == [1, 3], "both markers survive the first cleaning")
        #expect(markers.first { $0.baseOffset == 1 }?.hasDeleteHorizon == true, "the abort marker got a delete horizon")
        #expect(markers.first { $0.baseOffset == 3 }?.hasDeleteHorizon == false, "the commit marker still guards data")
        clock.advance(5_000)
        #expect(try log.compactIfDirty() == nil, "nothing to do before the horizon")
        clock.advance(6_000)
        let stats = try #require(try log.compactIfDirty(), "a passed delete horizon makes the log cleanable")
        #expect(stats.segmentsCleaned > 0)
        markers = try controlBatches()
        #expect(markers.map(\.baseOffset) == [3], "the abort marker is gone; the commit marker stays")
        #expect(try Self.contents(log).contains { $0.1 == "kept" })
        #expect(log.lastStableOffset == log.highWatermark)
    }

    @Test func cleaningMergesSmallAdjacentSegmentsUpToSegmentBytes() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        let (manager, log) = try Self.compactedLog(dir, clock: clock)
        for round in 0..<12 {
            let records = (0..<3).map { Self.keyed("k\($0)", "value-\(round)-\($0)", at: 1_000_000) }
            _ = try log.appendAndWait(records: TestBatches.batch(records), leaderEpoch: 0)
        }
        let before = log.segmentBaseOffsets
        #expect(before.count > 2)
        var config = log.config
        config.segmentBytes = 1 << 20
        try log.updateConfig(config)
        log.updateHighWatermark(log.logEndOffset)
        let stats = try #require(try log.compactIfDirty(force: true))
        #expect(stats.segmentsCleaned == before.count - 1)
        #expect(stats.segmentsAfter == 1)
        #expect(log.segmentBaseOffsets == [0, before[before.count - 1]], "every cleaned segment merged into one at the first base")
        let after = try Self.contents(log)
        #expect(after.map(\.0) == after.map(\.0).sorted())
        #expect(Set(after.map(\.1)) == ["k0", "k1", "k2"])
        #expect(after.filter { $0.0 < before[before.count - 1] }.count == 3, "one record per key below the active segment")
        #expect(try log.offset(for: .timestamp(1_000_000))?.offset == after.first?.0)
        manager.shutdown()
        let reopened = try TestManagers.make(dir.path)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "c", partition: 0))
        #expect(try Self.contents(again).map(\.0) == after.map(\.0))
    }

    @Test func anInterruptedMergeSwapIsFinishedAtOpen() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        do {
            let (manager, log) = try Self.compactedLog(dir, clock: clock)
            for round in 0..<8 {
                _ = try log.appendAndWait(records: TestBatches.simple(count: 3, timestamp: 1_000 + Int64(round) * 10), leaderEpoch: 0)
            }
            #expect(log.segmentBaseOffsets.count >= 3)
            manager.shutdown()
        }
        // A crash after `<first>.log.swap` (a merge of the first two segments) was written, before the
        // second segment was renamed away: both cover offsets of the second segment.
        let partition = dir.path + "/c-0/"
        let names = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted()
        let merged = try Data(contentsOf: URL(fileURLWithPath: partition + names[0])) + Data(contentsOf: URL(fileURLWithPath: partition + names[1]))
        try merged.write(to: URL(fileURLWithPath: partition + names[0] + ".swap"))
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "c", partition: 0))
        #expect(!FileManager.default.fileExists(atPath: partition + names[1]), "the merged-away segment is removed")
        #expect(log.logEndOffset == 24)
        log.updateHighWatermark(24)
        var offsets: [Int64] = []
        var next: Int64 = 0
        while next < 24 {
            let headers = TestBatches.headers(in: try log.read(from: next, maxBytes: 1 << 20).readBytes())
            guard let last = headers.last else { break }
            offsets += headers.map(\.baseOffset)
            next = last.lastOffset + 1
        }
        #expect(offsets == stride(from: 0, to: 24, by: 3).map { Int64($0) }, "every batch once, in order")
        #expect(try log.offset(for: .timestamp(1_031))?.offset == 10)
    }

    /// The cleaner writes a cleaned segment's indexes from what it wrote (no read-back): they must be the
    /// ones a recovery scan of the file builds, and lookups by offset and timestamp must land right.
    @Test func cleanedSegmentIndexesMatchARecoveryRebuild() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(1_000_000)
        var indexFiles: [String: Data] = [:]
        let partition = dir.path + "/c-0/"
        var after: [(Int64, String, String?)] = []
        do {
            var config = LogConfig()
            config.cleanupPolicy = .compact
            config.segmentBytes = 2_000
            config.indexIntervalBytes = 150
            config.minCompactionLagMs = 0
            let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
            defer { manager.shutdown() }
            let log = try manager.createLog(topic: "c", partition: 0, topicId: nil)
            for round in 0..<60 {
                let records = (0..<3).map { Self.keyed("k\((round * 3 + $0) % 40)", "value-\(round)", at: 1_000 + Int64(round) * 10) }
                _ = try log.appendAndWait(records: TestBatches.batch(records), leaderEpoch: 0)
            }
            #expect(log.segmentBaseOffsets.count >= 3)
            log.updateHighWatermark(log.logEndOffset)
            let stats = try #require(try log.compactIfDirty(force: true))
            #expect(stats.recordsRemoved > 0)
            after = try Self.contents(log)
            // Lookups through the cleaned segments' indexes: every surviving offset is found, timestamps land on the first at or after.
            for (offset, _, _) in after {
                let headers = TestBatches.headers(in: try log.read(from: offset, maxBytes: 1 << 20).readBytes())
                #expect(headers.first.map { $0.baseOffset <= offset && offset <= $0.lastOffset } == true)
            }
            #expect(try log.offset(for: .timestamp(1_000))?.offset == after.first?.0)
            manager.shutdown()
            for name in try FileManager.default.contentsOfDirectory(atPath: partition) where name.hasSuffix("index") {
                indexFiles[name] = try Data(contentsOf: URL(fileURLWithPath: partition + name))
                try FileManager.default.removeItem(atPath: partition + name)
            }
        }
        #expect(indexFiles.values.contains { $0.count > 8 }, "the cleaned segments have index entries")
        // Each segment scanned by recovery (which rewrites both index files from the log file).
        var config = LogConfig()
        config.indexIntervalBytes = 150
        let cache = FileHandleCache(capacity: 16)
        for name in try FileManager.default.contentsOfDirectory(atPath: partition) where name.hasSuffix(".log") {
            let base = try #require(Int64(name.dropLast(4)))
            let segment = try LogSegment.open(directory: dir.path + "/c-0", baseOffset: base, config: config, cache: cache, now: 0)
            #expect(try segment.recover() == 0)
            try segment.persistIndexes()
        }
        for (name, written) in indexFiles.sorted(by: { $0.key < $1.key }) {
            let rebuilt = try Data(contentsOf: URL(fileURLWithPath: partition + name))
            if name.hasSuffix(".index") {
                #expect(rebuilt == written, "\(name): the cleaner's offset index equals the rebuilt one")
            } else {
                // A segment that stopped being active gets a last entry for its largest timestamp
                // (onBecomeInactive), which a rebuild does not add.
                #expect(rebuilt == written || rebuilt == written.prefix(written.count - 12), "\(name)")
            }
        }
        let reopened = try TestManagers.make(dir.path)
        defer { reopened.shutdown() }
        let again = try #require(try reopened.log(topic: "c", partition: 0))
        #expect(try Self.contents(again).map(\.0) == after.map(\.0))
    }
}
