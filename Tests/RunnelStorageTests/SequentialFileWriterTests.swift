// SequentialFileWriter (the cleaner's output): on both paths the file holds exactly the appended bytes —
// appends that straddle the direct path's staging chunk, a last block that is not full — and ends at
// their logical size (no zero padding, no preallocated blocks left visible as size).
import Foundation
import Glibc
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct SequentialFileWriterTests {
    /// Pieces of uneven sizes, one larger than the staging chunk, totalling a size that is not block-aligned.
    private static let sizes = [1, 4095, 4097, 100_000, SequentialFileWriter.directChunk + 12_345, 17, 700_001, 3]

    @Test(arguments: [true, false])
    func writesExactlyTheAppendedBytes(direct: Bool) throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.path
        let path = dir + "/00000000000000000000.log.cleaned"
        var expected = [UInt8]()
        var writer = try SequentialFileWriter(path: path, direct: direct, expectedBytes: 8 << 20)
        // tmpfs may refuse O_DIRECT; the writer then writes buffered. On a disk-backed dir it must be direct.
        if direct, DirectIO.resolve(.direct, path: dir).direct { #expect(writer.isDirect) }
        if !direct { #expect(!writer.isDirect) }
        for (index, size) in Self.sizes.enumerated() {
            let piece = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            expected += piece
            try writer.append(ByteBuffer(bytes: piece))
        }
        #expect(writer.position == Int64(expected.count))
        let size = try writer.finish()
        #expect(size == Int64(expected.count))
        let written = try #require(FileManager.default.contents(atPath: path))
        #expect(written.count == expected.count)
        #expect([UInt8](written) == expected)
    }

    @Test func anEmptyOutputIsAnEmptyFile() throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.path
        let path = dir + "/empty.log.cleaned"
        var writer = try SequentialFileWriter(path: path, direct: true, expectedBytes: 1 << 20)
        #expect(try writer.finish() == 0)
        #expect(try FileSystem.fileSize(path) == 0)
    }

    @Test func aLeftoverFileIsEmptiedFirst() throws {
        let scratch = TemporaryDirectory()
        let dir = scratch.path
        let path = dir + "/leftover.log.cleaned"
        try Data(repeating: 0xAB, count: 3 << 20).write(to: URL(fileURLWithPath: path))
        var writer = try SequentialFileWriter(path: path, direct: true, expectedBytes: 1 << 20)
        try writer.append(ByteBuffer(bytes: [1, 2, 3]))
        #expect(try writer.finish() == 3)
        #expect(try #require(FileManager.default.contents(atPath: path)) == Data([1, 2, 3]))
    }
}
