// Tests for Kafka request framing: sizes checked before buffering, partial frames, header fields.
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelBroker

@Suite struct KafkaFrameDecoderTests {
    @Test func decodesTheFixedHeaderFieldsAndKeepsTheWholeFrame() throws {
        var buffer = requestBytes(apiKey: 0, apiVersion: 9, correlationId: 77, body: [1, 2, 3])
        let frame = try #require(try KafkaFrameDecoder.readFrame(from: &buffer, maxRequestBytes: 1024))
        #expect(frame.apiKey == 0)
        #expect(frame.apiVersion == 9)
        #expect(frame.correlationId == 77)
        #expect(frame.buffer.readableBytes == 11)
        #expect(frame.buffer.getInteger(at: frame.buffer.readerIndex, as: Int16.self) == 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test func waitsForTheRestOfAPartialFrameWithoutConsumingIt() throws {
        let whole = requestBytes(correlationId: 5, body: Array(repeating: 7, count: 100))
        for cut in [1, 3, 4, 11, 12, 50, whole.readableBytes - 1] {
            var partial = whole.getSlice(at: 0, length: cut) ?? ByteBuffer()
            #expect(try KafkaFrameDecoder.readFrame(from: &partial, maxRequestBytes: 1024) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test(arguments: [Int32.max, Int32(bitPattern: 0x8000_0000), -1, 0, 7])
    func rejectsSizesThatAreNegativeTooSmallOrTooLargeBeforeBuffering(size: Int32) {
        var buffer = ByteBuffer()
        buffer.writeInteger(size)
        #expect(throws: ServerError.self) {
            _ = try KafkaFrameDecoder.readFrame(from: &buffer, maxRequestBytes: 104_857_600)
        }
    }

    @Test func acceptsAFrameOfExactlyTheLimitAndRejectsOneByteMore() throws {
        var atLimit = requestBytes(correlationId: 1, body: Array(repeating: 0, count: 92))
        #expect(try KafkaFrameDecoder.readFrame(from: &atLimit, maxRequestBytes: 100) != nil)
        var overLimit = requestBytes(correlationId: 1, body: Array(repeating: 0, count: 93))
        #expect(throws: ServerError.frameTooLarge(size: 101, limit: 100)) {
            _ = try KafkaFrameDecoder.readFrame(from: &overLimit, maxRequestBytes: 100)
        }
    }

    @Test func twoGibiByteSizePrefixClosesTheConnectionAfterFourBytesAndLogsClientAndSize() throws {
        let logs = LogCapture()
        let channel = try makePipelineChannel(router: EchoRouter(), logger: logs.logger)
        var prefix = ByteBuffer()
        prefix.writeInteger(Int32.max)
        try channel.writeInbound(prefix)
        #expect(!channel.isActive)
        let line = try #require(logs.all.first { $0.contains("request too large") })
        #expect(line.contains("size=2147483647"))
        #expect(line.contains("client="))
        #expect(line.contains("127.0.0.1"))
    }

    @Test func negativeSizePrefixClosesTheConnection() throws {
        let logs = LogCapture()
        let channel = try makePipelineChannel(router: EchoRouter(), logger: logs.logger)
        var prefix = ByteBuffer()
        prefix.writeInteger(Int32(-42))
        try channel.writeInbound(prefix)
        #expect(!channel.isActive)
        #expect(logs.all.contains { $0.contains("invalid request size") && $0.contains("size=-42") })
    }

    @Test func frameSplitAcrossManyReadsIsDeliveredOnce() throws {
        let channel = try makePipelineChannel(router: EchoRouter())
        var whole = requestBytes(correlationId: 99, body: Array(repeating: 1, count: 300))
        while whole.readableBytes > 0, let piece = whole.readSlice(length: min(7, whole.readableBytes)) {
            try channel.writeInbound(piece)
        }
        #expect(correlationIds(try readResponses(channel)) == [99])
        #expect(channel.isActive)
    }
}
