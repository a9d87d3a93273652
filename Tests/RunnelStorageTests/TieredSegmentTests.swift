// The remote tier (remote.log.dir): segments leaving the hot set move to the second directory, read back
// byte-identical (plain and zstd frames at rest), serve ListOffsets, survive a restart, are deleted by
// retention and DeleteRecords; a crash at each step of copy → publish → delete local recovers.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct TieredSegmentTests {
    static func config() -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 1_200
        config.retentionMs = -1
        config.remoteStorageEnable = true
        config.localRetentionBytes = 1_300  // keeps about one closed segment beside the active one
        config.fileDeleteDelayMs = 0
        return config
    }

    static func manager(_ dir: TemporaryDirectory, clock: TestClock, compression: SegmentCompressionAtRest,
                        config: LogConfig = config(), crash: TieringStep? = nil, frameSize: Int? = nil) throws -> LogManager {
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir.path + "/hot"], ioEngine: .posix, defaults: config,
                                                               ioMode: TestManagers.ioMode)
        configuration.clock = clock.function
        configuration.remoteLogDir = dir.path + "/cold"
        configuration.compressionAtRest = compression
        configuration.tieringCrashPoint = crash
        return try LogManager(configuration: configuration)
    }

    /// Appends `batches` batches of 3 records, timestamps 1000, 2000, …
    static func fill(_ log: PartitionLog, batches: Int = 20) throws {
        for batch in 0..<batches {
            _ = try log.appendAndWait(records: TestBatches.simple(count: 3, timestamp: 1_000 + Int64(batch) * 1_000, valueSize: 90),
                                      leaderEpoch: 0)
        }
    }

    /// Every byte of the log from `from` to the high watermark, read the way a consumer does.
    static func readAll(_ log: PartitionLog, from: Int64 = -1, maxBytes: Int = 700) throws -> ByteBuffer {
        var out = ByteBuffer()
        var offset = from < 0 ? log.logStartOffset : from
        while offset < log.highWatermark {
            let read = try log.read(from: offset, maxBytes: maxBytes, minOneBatch: true)
            var bytes = try read.readBytes()
            let headers = TestBatches.headers(in: bytes)
            // Whole batches only (the last one may be cut at maxBytes, as Kafka does).
            let whole = headers.filter { Int($0.batchLength) + 12 <= bytes.readableBytes }
            guard let last = whole.last else { Issue.record("no whole batch at \(offset)"); break }
            let wholeBytes = whole.reduce(0) { $0 + Int($1.batchLength) + 12 }
            var slice = bytes.readSlice(length: wholeBytes)!
            out.writeBuffer(&slice)
            offset = last.lastOffset + 1
        }
        return out
    }

    static func coldFiles(_ dir: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cold/t-0")) ?? []).sorted()
    }

    @Test(arguments: SegmentCompressionAtRest.allCases)
    func closedSegmentsMoveToTheRemoteDirectoryAndReadBackByteIdentical(_ compression: SegmentCompressionAtRest) throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(100_000)
        let manager = try Self.manager(dir, clock: clock, compression: compression)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        let before = try Self.readAll(log)
        let localBefore = log.segmentBaseOffsets
        #expect(localBefore.count >= 5)

        let moved = try log.tierSegments()
        #expect(moved == localBefore.count - 2)
        #expect(log.remoteSegmentBaseOffsets == Array(localBefore.prefix(moved)))
        #expect(log.segmentBaseOffsets == Array(localBefore.suffix(2)))
        #expect(log.logStartOffset == 0)
        let files = Self.coldFiles(dir)
        let dataSuffix = compression == .zstd ? ".log.zst" : ".log"
        #expect(files.filter { $0.hasSuffix(dataSuffix) }.count == moved)
        #expect(files.filter { $0.hasSuffix(".segment") }.count == moved)
        if compression == .zstd { #expect(files.filter { $0.hasSuffix(".log.zst.frames") }.count == moved) }
        let hotFiles = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/hot/t-0")
        #expect(!hotFiles.contains("00000000000000000000.log"))

        // Byte-identical from the start, and from offsets inside remote batches and across the tier boundary.
        #expect(try Self.readAll(log) == before)
        #expect(try Self.readAll(log, maxBytes: 1 << 20) == before)
        let inside = try log.read(from: 7, maxBytes: 1 << 20)
        #expect(TestBatches.headers(in: try inside.readBytes()).first?.baseOffset == 6)
        #expect(inside.firstBatchOffset == 6)
        #expect(compression == .none ? !inside.slices.isEmpty : !inside.buffers.isEmpty)
        #expect(TestBatches.crcsValid(try inside.readBytes()))
    }

    @Test(arguments: SegmentCompressionAtRest.allCases)
    func listOffsetsAnswersFromTheRemoteTier(_ compression: SegmentCompressionAtRest) throws {
        let dir = TemporaryDirectory()
        let manager = try Self.manager(dir, clock: TestClock(100_000), compression: compression)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        let expected = try [1_000, 4_000, 4_500, 19_000, 30_000].map { try log.offset(for: .timestamp($0)) }
        let maxBefore = try log.offset(for: .maxTimestamp)
        #expect(try log.tierSegments() > 0)
        #expect(try log.offset(for: .timestamp(1_000))?.offset == 0)
        #expect(try log.offset(for: .timestamp(4_000))?.offset == 9)
        #expect(try [1_000, 4_000, 4_500, 19_000, 30_000].map { try log.offset(for: .timestamp($0)) } == expected)
        #expect(try log.offset(for: .earliest)?.offset == 0)
        #expect(try log.offset(for: .maxTimestamp) == maxBefore)
    }

    @Test func remoteSegmentsSurviveARestart() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(100_000)
        var manager = try Self.manager(dir, clock: clock, compression: .zstd)
        var log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        let before = try Self.readAll(log)
        try log.tierSegments()
        let remote = log.remoteSegmentBaseOffsets
        #expect(!remote.isEmpty)
        manager.shutdown()

        manager = try Self.manager(dir, clock: clock, compression: .zstd)
        defer { manager.shutdown() }
        log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.remoteSegmentBaseOffsets == remote)
        #expect(log.logStartOffset == 0)
        #expect(try Self.readAll(log) == before)
        #expect(try log.offset(for: .timestamp(2_000))?.offset == 3)
    }

    @Test func retentionByTimeDeletesRemoteSegmentsAtTheEndAndMinusOneKeepsEverything() throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(100_000)
        var config = Self.config()
        config.retentionMs = -1
        let manager = try Self.manager(dir, clock: clock, compression: .zstd, config: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        try log.tierSegments()
        let remote = log.remoteSegmentBaseOffsets
        #expect(!remote.isEmpty)
        // retention.ms = -1: nothing goes, however old.
        clock.advance(1_000_000_000)
        #expect(try log.applyRetention() == 0)
        #expect(log.remoteSegmentBaseOffsets == remote)

        // retention.ms = 50 s: the records (timestamps 1–20 s) are long expired; the remote segments go
        // first, then the local ones the same way as without a remote tier.
        config.retentionMs = 50_000
        try log.updateConfig(config)
        let deleted = try log.applyRetention()
        #expect(deleted >= remote.count)
        #expect(log.remoteSegmentBaseOffsets.isEmpty)
        #expect(!Self.coldFiles(dir).contains { $0.hasSuffix(".log.zst") || $0.hasSuffix(".segment") })
        #expect(log.logStartOffset >= log.segmentBaseOffsets[0])
        #expect(throws: StorageError.self) { try log.read(from: 0, maxBytes: 100) }
    }

    @Test func retentionBytesCountsBothTiers() throws {
        let dir = TemporaryDirectory()
        var config = Self.config()
        config.retentionBytes = 3_000
        config.localRetentionBytes = 1_300
        let manager = try Self.manager(dir, clock: TestClock(100_000), compression: .none, config: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        try log.tierSegments()
        try log.applyRetention()
        let remoteBytes = log.remoteSegments.reduce(0) { $0 + $1.size }
        #expect(remoteBytes + log.size - (log.remoteSegments.last?.size ?? 0) < 3_000 + 1_200)
        #expect(log.logStartOffset == log.remoteSegmentBaseOffsets.first ?? log.segmentBaseOffsets[0])
    }

    @Test func deleteRecordsMovesTheLogStartOffsetIntoTheRemoteTierAndRetentionRemovesWhatIsBelow() throws {
        let dir = TemporaryDirectory()
        let manager = try Self.manager(dir, clock: TestClock(100_000), compression: .zstd)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        try log.tierSegments()
        let remote = log.remoteSegments
        #expect(remote.count >= 2)
        let target = remote[1].baseOffset + 1
        #expect(try log.deleteRecords(before: target) == target)
        #expect(try log.offset(for: .earliest)?.offset == target)
        #expect(throws: StorageError.self) { try log.read(from: target - 1, maxBytes: 100) }
        #expect(TestBatches.headers(in: try log.read(from: target, maxBytes: 1 << 20).readBytes()).first?.lastOffset ?? -1 >= target)
        try log.applyRetention()
        #expect(log.remoteSegmentBaseOffsets.first == remote[1].baseOffset)
        #expect(!Self.coldFiles(dir).contains(LogSegment.fileName(remote[0].baseOffset, ".segment")))
    }

    @Test func compactedTopicsAreNeverTiered() throws {
        let dir = TemporaryDirectory()
        var config = Self.config()
        config.cleanupPolicy = [.compact, .delete]
        let manager = try Self.manager(dir, clock: TestClock(100_000), compression: .none, config: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        #expect(try log.tierSegments() == 0)
        #expect(log.remoteSegmentBaseOffsets.isEmpty)
    }

    // MARK: Crash safety: copy, fsync, publish, delete local

    @Test(arguments: [TieringStep.copied, .published])
    func aCrashAtEachStepOfTieringRecovers(_ step: TieringStep) throws {
        let dir = TemporaryDirectory()
        let clock = TestClock(100_000)
        let crashed = try Self.manager(dir, clock: clock, compression: .zstd, crash: step)
        let log = try crashed.createLog(topic: "t", partition: 0, topicId: nil)
        try Self.fill(log)
        let before = try Self.readAll(log)
        let local = log.segmentBaseOffsets
        #expect(try log.tierSegments() == 0)
        // The crash left files in the second directory: unpublished ones (copied) or a published copy
        // beside the local segment (published).
        #expect(Self.coldFiles(dir).contains("00000000000000000000.log.zst"))
        #expect(Self.coldFiles(dir).contains("00000000000000000000.segment") == (step == .published))
        crashed.abandonForTesting()

        let manager = try Self.manager(dir, clock: clock, compression: .zstd)
        defer { manager.shutdown() }
        let reopened = try #require(try manager.log(topic: "t", partition: 0))
        switch step {
        case .copied:
            // Unpublished: the copy is removed, the local segment serves.
            #expect(reopened.remoteSegmentBaseOffsets.isEmpty)
            #expect(Self.coldFiles(dir).isEmpty)
            #expect(reopened.segmentBaseOffsets == local)
        case .published:
            // Published: the remote copy serves, the local duplicate is gone.
            #expect(reopened.remoteSegmentBaseOffsets == [0])
            #expect(reopened.segmentBaseOffsets == Array(local.dropFirst()))
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/hot/t-0/00000000000000000000.log"))
        }
        #expect(try Self.readAll(reopened) == before)
        // Tiering then goes on normally.
        #expect(try reopened.tierSegments() > 0)
        #expect(try Self.readAll(reopened) == before)
    }

    // MARK: The frame format

    @Test func framedZstdServesAnyByteRangeAndRejectsACorruptFrameIndex() throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryRemoteStore(root: dir.path + "/cold", compression: .zstd, frameSize: 4_096)
        // A 50 KiB "segment" of varied bytes.
        var data = ByteBuffer()
        var generator = SystemRandomNumberGenerator()
        for index in 0..<(50 * 1_024) { data.writeInteger(UInt8(truncatingIfNeeded: index % 251 == 0 ? generator.next() : UInt64(index / 97))) }
        let path = dir.path + "/source.log"
        _ = FileManager.default.createFile(atPath: path, contents: Data(data.readableBytesView))
        let metadata = RemoteSegmentMetadata(topic: "t", partition: 0, baseOffset: 0, endOffset: 1, size: Int64(data.readableBytes),
                                             maxTimestamp: 0, offsetOfMaxTimestamp: 0, compression: .zstd)
        let files = LocalSegmentFiles(log: path, offsetIndex: path + ".none", timeIndex: path + ".none", transactionIndex: path + ".none")
        let published = try store.copy(files, metadata: metadata)
        #expect(published.storedBytes > 0 && published.storedBytes < metadata.size)
        let reader = try store.open(published)
        #expect(reader.zeroCopyFile == nil)
        for (position, length) in [(0, 10), (4_090, 20), (4_096, 4_096), (100, 30_000), (51_000, 5_000), (0, 60_000), (51_199, 1)] {
            let got = try reader.read(at: Int64(position), length: length)
            let end = min(position + length, data.readableBytes)
            #expect(got == data.getSlice(at: position, length: end - position), "range \(position)+\(length)")
        }
        let framesPath = dir.path + "/cold/t-0/00000000000000000000.log.zst.frames"
        var frames = try #require(FileManager.default.contents(atPath: framesPath))
        frames[frames.count / 2] ^= 0xFF
        try frames.write(to: URL(fileURLWithPath: framesPath))
        #expect(throws: StorageError.self) { _ = try store.open(published) }
    }

    /// remote.log.manager.copy.max.bytes.per.second: a copy of 3 MiB at 10 MiB/s takes about 0.3 s, plain
    /// or compressed, and the copy is byte for byte (the plain one written with O_DIRECT where the dir takes it).
    @Test(arguments: [SegmentCompressionAtRest.none, .zstd])
    func copiesArePacedByTheCopyThrottle(compression: SegmentCompressionAtRest) throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryRemoteStore(root: dir.path + "/cold", compression: compression,
                                                  throttle: IOThrottle(bytesPerSecond: 10 * 1_048_576))
        let data = Data((0..<(3 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 / 7) })
        let path = dir.path + "/source.log"
        _ = FileManager.default.createFile(atPath: path, contents: data)
        let metadata = RemoteSegmentMetadata(topic: "t", partition: 0, baseOffset: 0, endOffset: 1, size: Int64(data.count),
                                             maxTimestamp: 0, offsetOfMaxTimestamp: 0, compression: compression)
        let files = LocalSegmentFiles(log: path, offsetIndex: path + ".none", timeIndex: path + ".none", transactionIndex: path + ".none")
        let start = ContinuousClock.now
        let published = try store.copy(files, metadata: metadata)
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(250), "\(elapsed)")
        let copied = try store.open(published).read(at: 0, length: data.count + 10)
        #expect(Data(copied.readableBytesView) == data)
    }

    @Test func listingRemovesUnpublishedLeftoversAndKeepsPublishedSegments() throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryRemoteStore(root: dir.path + "/cold", compression: .none)
        let partition = dir.path + "/cold/t-0"
        try FileManager.default.createDirectory(atPath: partition, withIntermediateDirectories: true)
        for name in ["00000000000000000000.log", "00000000000000000000.index", "00000000000000000010.log.tmp",
                     "00000000000000000010.log", "00000000000000000020.segment"] {
            _ = FileManager.default.createFile(atPath: partition + "/" + name, contents: Data("x".utf8))
        }
        let manifest = LocalDirectoryRemoteStore.manifest(RemoteSegmentMetadata(
            topic: "t", partition: 0, baseOffset: 0, endOffset: 10, size: 1, maxTimestamp: 5, offsetOfMaxTimestamp: 3, compression: .none))
        _ = FileManager.default.createFile(atPath: partition + "/00000000000000000000.segment", contents: Data(manifest.readableBytesView))
        let listed = try store.list(topic: "t", partition: 0)
        #expect(listed.map(\.baseOffset) == [0])
        #expect(listed.first?.endOffset == 10 && listed.first?.maxTimestamp == 5)
        let left = try FileManager.default.contentsOfDirectory(atPath: partition).sorted()
        #expect(left == ["00000000000000000000.index", "00000000000000000000.log", "00000000000000000000.segment"])
    }
}
