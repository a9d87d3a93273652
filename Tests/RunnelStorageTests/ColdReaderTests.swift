// A consumer's cold file ranges are read with O_DIRECT into pooled memory: unaligned ranges come back
// byte for byte, a range past the file's end comes back as nil (the fetch then sends the file range).
import Foundation
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct ColdReaderTests {
    /// Reads `ranges` and waits for the answer (bounded).
    private func read(_ reader: ColdReader, _ ranges: [(file: LogFileHandle, start: Int64, end: Int64)]) async throws -> [ByteBuffer?] {
        let answer = Mutex<[ByteBuffer?]?>(nil)
        #expect(reader.read(ranges) { buffers in answer.withLock { $0 = buffers } })
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let buffers = answer.withLock({ $0.take() }) { return buffers }
            try await Task.sleep(for: .milliseconds(2))
        }
        Issue.record("no answer within 30 s")
        return []
    }

    /// Creates `path` with `bytes` and syncs it: an O_DIRECT read of dirty pages first waits for their
    /// writeback, which on a slow disk busy with the rest of the suite took over 10 s once.
    private func makeFile(_ path: String, _ bytes: [UInt8]) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.synchronize()
        try handle.close()
    }

    @Test func unalignedRangesComeBackByteForByteAndAShortFileGivesNil() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/00000000000000000000.log"
        let size = 3 * 1024 * 1024 + 1_234
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) }
        try makeFile(path, bytes)
        let file = try LogFileHandle.open(path, create: false)
        // Chunks smaller than the ranges: each range takes several reads.
        let reader = ColdReader(threads: 2, chunkBytes: 256 << 10, maxHeldBytes: 64 << 20)
        let ranges: [(file: LogFileHandle, start: Int64, end: Int64)] = [
            (file, 0, 4096), (file, 777, 1_048_576 + 5), (file, 2_000_001, Int64(size)), (file, Int64(size) - 10, Int64(size) + 10),
        ]
        let buffers = try await read(reader, ranges)
        try #require(buffers.count == ranges.count)
        guard file.forDirectReads != nil else {
            // A file system without O_DIRECT (tmpfs): nothing is read, every range is left to sendfile.
            #expect(buffers.allSatisfy { $0 == nil })
            return
        }
        for (range, buffer) in zip(ranges.prefix(3), buffers) {
            let expected = Array(bytes[Int(range.start)..<Int(range.end)])
            #expect(buffer.map { Array($0.readableBytesView) } == expected)
        }
        #expect(buffers[3] == nil)
        #expect(reader.counts.reads >= 8)
    }

    /// Waits (bounded) until the reader holds `bytes`.
    private func waitHeld(_ reader: ColdReader, _ bytes: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while reader.budget.held != bytes && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(reader.budget.held == bytes)
    }

    @Test func theBudgetRefusesReadsBeyondItUntilTheHeldBytesAreFreed() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/00000000000000000000.log"
        let size = 2 * 1024 * 1024
        try makeFile(path, (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let file = try LogFileHandle.open(path, create: false)
        let reader = ColdReader(threads: 1, chunkBytes: 256 << 10, maxHeldBytes: 1 << 20)
        // Admitted whatever its size while nothing is held, and held until its bytes are freed.
        var first: [ByteBuffer?]? = try await read(reader, [(file, 100, 768 << 10)])
        let direct = file.forDirectReads != nil
        if direct {
            #expect(first?.first??.readableBytes == (768 << 10) - 100)
            #expect(reader.budget.held == 768 << 10)
            // 768 KiB held + 512 KiB > 1 MiB: refused, and `done` is never called.
            #expect(!reader.read([(file, 0, 512 << 10)]) { _ in Issue.record("a refused read answered") })
            #expect(reader.budget.refused == 1)
            // A read that fits beside it is admitted.
            let small = try await read(reader, [(file, 4096, 8192)])
            #expect(small.first??.readableBytes == 4096)
        }
        first = nil
        try await waitHeld(reader, 0)
        #expect(first == nil)
        // Freed: the larger read goes through now; a range it cannot read (past the end) gives its bytes back.
        let second = try await read(reader, [(file, 0, 512 << 10), (file, Int64(size), Int64(size) + 4096)])
        try #require(second.count == 2)
        #expect(second[1] == nil)
        if direct { try await waitHeld(reader, 512 << 10) }
        // A budget of 0 refuses every read.
        reader.maxHeldBytes = 0
        #expect(!reader.read([(file, 0, 4096)]) { _ in Issue.record("a refused read answered") })
    }
}
