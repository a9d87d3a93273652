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
        reader.read(ranges) { buffers in answer.withLock { $0 = buffers } }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let buffers = answer.withLock({ $0 }) { return buffers }
            try await Task.sleep(for: .milliseconds(2))
        }
        Issue.record("no answer within 10 s")
        return []
    }

    @Test func unalignedRangesComeBackByteForByteAndAShortFileGivesNil() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/00000000000000000000.log"
        let size = 3 * 1024 * 1024 + 1_234
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let file = try LogFileHandle.open(path, create: false)
        // Chunks smaller than the ranges: each range takes several reads.
        let reader = ColdReader(threads: 2, chunkBytes: 256 << 10)
        let ranges: [(file: LogFileHandle, start: Int64, end: Int64)] = [
            (file, 0, 4096), (file, 777, 1_048_576 + 5), (file, 2_000_001, Int64(size)), (file, Int64(size) - 10, Int64(size) + 10),
        ]
        let buffers = try await read(reader, ranges)
        #expect(buffers.count == ranges.count)
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
}
