// The client's response framing: frames split across reads are reassembled, several frames in one
// read come out in order, and an oversized or negative size prefix fails the channel before anything
// is allocated for it, with every later byte ignored.
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelClient

@Suite struct ResponseFrameHandlerTests {
    private func frame(_ body: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(body.utf8.count))
        buffer.writeString(body)
        return buffer
    }

    private func frames(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while var next = try channel.readInbound(as: ByteBuffer.self) {
            out.append(next.readString(length: next.readableBytes) ?? "")
        }
        return out
    }

    @Test func framesSplitAcrossReadsAndPackedIntoOneReadComeOutWhole() throws {
        let channel = EmbeddedChannel(handler: ResponseFrameHandler(maxFrameSize: 1 << 20))
        var stream = frame("first")
        var second = frame(String(repeating: "x", count: 70_000))
        var third = frame("third")
        stream.writeBuffer(&second)
        stream.writeBuffer(&third)
        // Cut at awkward places: inside the first prefix, inside the big body, between frames.
        for cut in [2, 9, 30_000, 60_000, stream.writerIndex] {
            let length = min(cut, stream.writerIndex) - stream.readerIndex
            guard length > 0, let piece = stream.readSlice(length: length) else { continue }
            try channel.writeInbound(piece)
        }
        let out = try frames(channel)
        #expect(out.count == 3)
        #expect(out.first == "first" && out.last == "third")
        #expect(out.dropFirst().first?.count == 70_000)
        _ = try channel.finish()
    }

    @Test(arguments: [Int32(2 << 20), Int32(-1)])
    func aLyingSizePrefixFailsTheChannelAndLaterBytesAreIgnored(size: Int32) throws {
        let channel = EmbeddedChannel(handler: ResponseFrameHandler(maxFrameSize: 1 << 20))
        var bad = ByteBuffer()
        bad.writeInteger(size)
        bad.writeString("payload")
        #expect(throws: ResponseFrameHandler.FrameTooLarge.self) { try channel.writeInbound(bad) }
        try channel.writeInbound(frame("after"))
        #expect(try frames(channel).isEmpty)
        _ = try? channel.finish()
    }
}
