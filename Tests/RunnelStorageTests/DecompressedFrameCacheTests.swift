// The cache of decompressed zstd frames and its read-ahead (remote segments compressed at rest): memory
// stays under the cap, the least recently used frame goes first, read-ahead fills the next range, a
// corrupt frame (its header overwritten) gives a clear error (from read-ahead too) and never a crash, and concurrent readers of
// one segment read exactly the uncompressed bytes.
import Foundation
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct DecompressedFrameCacheTests {
    /// A segment of `frames` frames of 1,000 bytes compressed at rest, and its uncompressed bytes.
    struct Fixture {
        let dir = TemporaryDirectory()
        let original: [UInt8]
        let file: LogFileHandle
        let table: ZstdFrameTable

        init(frames: Int = 10) throws {
            original = (0..<(frames * 1_000)).map { UInt8(truncatingIfNeeded: $0 / 3 &* 31 ^ $0 % 7) }
            let source = try LogFileHandle.open(dir.path + "/plain.log", create: true)
            try source.write([ByteBuffer(bytes: original)], at: 0)
            file = try LogFileHandle.open(dir.path + "/plain.log.zst", create: true)
            table = try FramedZstd.compress(source: source, size: Int64(original.count), into: file, frameSize: 1_000)
        }

        func expected(_ position: Int, _ length: Int) -> [UInt8] {
            Array(original[position..<min(original.count, position + length)])
        }
    }

    static func bytes(_ buffers: [ByteBuffer]) -> [UInt8] {
        buffers.flatMap { $0.getBytes(at: $0.readerIndex, length: $0.readableBytes) ?? [] }
    }

    /// Polls (bounded) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    func isReady(_ cache: DecompressedFrameCache, _ reader: ZstdFramedSegmentBytes, _ frame: Int) -> Bool {
        if case .ready = cache.lookup(.init(segment: reader.id, frame: frame)) { return true }
        return false
    }

    @Test("a sequential read holds at most the cap, least recently used frames go first")
    func boundedAndLRU() throws {
        let fixture = try Fixture()
        let cache = DecompressedFrameCache(capacity: 3_000)
        let reader = ZstdFramedSegmentBytes(file: fixture.file, table: fixture.table, cache: cache)
        for position in stride(from: 0, to: 10_000, by: 700) {
            #expect(Self.bytes(try reader.readBuffers(at: Int64(position), length: 1_500)) == fixture.expected(position, 1_500))
            #expect(cache.bytes <= 3_000)
        }
        #expect(cache.count == 3)
        // (Each lookup counts as a use.) Uses in the order 9, 8, 7, then 9 again: 8 is the least recently
        // used, so reading frame 0 evicts it and keeps 9 and 7.
        #expect(!isReady(cache, reader, 0))
        #expect(isReady(cache, reader, 9) && isReady(cache, reader, 8) && isReady(cache, reader, 7) && isReady(cache, reader, 9))
        _ = try reader.read(at: 0, length: 10)
        #expect(cache.count == 3 && !isReady(cache, reader, 8))
        #expect(isReady(cache, reader, 9) && isReady(cache, reader, 7) && isReady(cache, reader, 0))
        // A multi-frame answer is slices of the cached frames, one per frame, byte-identical.
        let parts = try reader.readBuffers(at: 6_500, length: 2_000)
        #expect(parts.count == 3 && Self.bytes(parts) == fixture.expected(6_500, 2_000))
    }

    @Test("read-ahead decompresses the next range in the background, within the cap")
    func readAheadFills() async throws {
        let fixture = try Fixture()
        let cache = DecompressedFrameCache(capacity: 4_000)
        let reader = ZstdFramedSegmentBytes(file: fixture.file, table: fixture.table, cache: cache)
        reader.readAhead(at: 2_500, length: 2_000)  // frames 2, 3, 4
        #expect(try await Self.eventually { [2, 3, 4].allSatisfy { isReady(cache, reader, $0) } })
        #expect(cache.bytes == 3_000)
        // More than fits: only what the cap allows is queued (ready frames are evicted for it, oldest first).
        reader.readAhead(at: 5_000, length: 5_000)
        #expect(try await Self.eventually { isReady(cache, reader, 5) && isReady(cache, reader, 8) })
        #expect(cache.bytes <= 4_000 && cache.count == 4 && !isReady(cache, reader, 9))
        #expect(Self.bytes(try reader.readBuffers(at: 5_000, length: 4_000)) == fixture.expected(5_000, 4_000))
        // Past the end, or empty: nothing queued.
        reader.readAhead(at: 10_000, length: 1_000)
        reader.readAhead(at: 0, length: 0)
        #expect(cache.bytes <= 4_000)
    }

    @Test("a corrupt frame is a clear error, from a read and after a read-ahead; other frames still read")
    func corruptFrame() async throws {
        let fixture = try Fixture()
        let entry = fixture.table.frames[3]
        try fixture.file.write([ByteBuffer(bytes: [UInt8](repeating: 0xA5, count: 40))], at: entry.position)
        let cache = DecompressedFrameCache(capacity: 10_000)
        let reader = ZstdFramedSegmentBytes(file: fixture.file, table: fixture.table, cache: cache)
        reader.readAhead(at: 2_000, length: 3_000)  // frames 2, 3 (corrupt), 4
        #expect(try await Self.eventually { isReady(cache, reader, 4) })
        #expect(!isReady(cache, reader, 3))
        for attempt in 0..<2 {
            do {
                _ = try reader.readBuffers(at: 2_900, length: 500)
                Issue.record("read \(attempt) of a corrupt frame succeeded")
            } catch {
                guard case .corruptMessage(let message) = error else { Issue.record("unexpected \(error)"); continue }
                #expect(message.contains("plain.log.zst"), "\(message)")
            }
        }
        #expect(Self.bytes(try reader.readBuffers(at: 4_000, length: 2_000)) == fixture.expected(4_000, 2_000))
        // A file cut short inside a frame: the same kind of error.
        try fixture.file.truncate(to: fixture.table.frames[8].position + 5)
        let cut = ZstdFramedSegmentBytes(file: fixture.file, table: fixture.table, cache: cache)
        #expect(throws: StorageError.self) { _ = try cut.read(at: 8_100, length: 10) }
    }

    @Test("concurrent readers with read-ahead on a small cache read exactly the uncompressed bytes")
    func concurrentReaders() async throws {
        let fixture = try Fixture(frames: 40)
        let cache = DecompressedFrameCache(capacity: 6_000)
        let reader = ZstdFramedSegmentBytes(file: fixture.file, table: fixture.table, cache: cache)
        let original = fixture.original
        let failures = await withTaskGroup(of: Int.self) { group in
            for task in 0..<6 {
                group.addTask {
                    var failures = 0
                    var position = task * 1_700 % 40_000
                    for step in 0..<60 {
                        let length = 300 + (task * 977 + step * 131) % 3_500
                        let expected = Array(original[position..<min(original.count, position + length)])
                        guard let parts = try? reader.readBuffers(at: Int64(position), length: length),
                              Self.bytes(parts) == expected else {
                            failures += 1
                            continue
                        }
                        reader.readAhead(at: Int64(position + length), length: length)
                        position = (position + length) % 40_000
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
        // Queued read-ahead settles; the cap holds throughout its completion.
        #expect(try await Self.eventually { cache.bytes <= 6_000 })
        #expect(cache.bytes <= 6_000)
    }
}
