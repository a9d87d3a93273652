// Reads of a segment compressed at rest in zstd frames: any byte range, within one frame or across
// many, partly or wholly covered, with or without the recent-frames cache holding a neighbour, gives
// exactly the uncompressed bytes.
import Foundation
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct FramedZstdReadTests {
    @Test("every range over many small frames reads back byte-identical, in any order")
    func rangesReadBack() throws {
        let dir = TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let size = 10_000
        let original = (0..<size).map { index in UInt8(truncatingIfNeeded: index / 7) ^ (index % 5 == 0 ? UInt8.random(in: 0...255, using: &generator) : 0) }
        let source = try LogFileHandle.open(dir.path + "/plain.log", create: true)
        try source.write([ByteBuffer(bytes: original)], at: 0)
        let destination = try LogFileHandle.open(dir.path + "/plain.log.zst", create: true)
        let table = try FramedZstd.compress(source: source, size: Int64(size), into: destination, frameSize: 1_000)
        #expect(table.frames.count == 10)
        let reader = ZstdFramedSegmentBytes(file: destination, table: table)
        let ranges: [(Int, Int)] = [(0, size), (999, 2), (1_000, 3_000), (1_500, 3_000), (2_999, 5_001), (0, 1),
                                    (9_999, 100), (4_000, 1_000), (3_500, 1_000), (0, 20_000), (7_250, 1)]
        let random = (0..<200).map { _ in (Int.random(in: 0..<size), Int.random(in: 1...4_000)) }
        for (position, length) in ranges + random {
            let bytes = try reader.read(at: Int64(position), length: length)
            let expected = Array(original[position..<min(size, position + length)])
            #expect(bytes.getBytes(at: bytes.readerIndex, length: bytes.readableBytes) == expected,
                    "range \(position) + \(length)")
        }
        #expect(try reader.read(at: Int64(size), length: 10).readableBytes == 0)
    }
}
