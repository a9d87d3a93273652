// Tests for Kafka request framing: sizes checked before buffering, partial frames, header fields.
import KafkaProtocol
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelBroker

@Suite struct KafkaFrameHandlerTests {
    /// Feeds `pieces` to a broker-configured accumulator and returns the frames it cut.
    private func frames(_ pieces: [ByteBuffer], limit: Int = 1024) throws(FrameSizeError) -> [ByteBuffer] {
        var accumulator = SizePrefixedFrameAccumulator(maxFrameSize: limit, minFrameSize: KafkaRequestFrame.fixedHeaderSize,
                                                       eagerReserveLimit: 1 << 16)
        var out: [ByteBuffer] = []
        for var piece in pieces {
            try accumulator.feed(&piece, allocator: ByteBufferAllocator()) { out.append($0) }
            #expect(piece.readableBytes == 0)
        }
        return out
    }

    @Test func aFrameInsideOneReadIsASliceWithTheWholeRequestHeader() throws {
        let buffer = requestBytes(apiKey: 0, apiVersion: 9, correlationId: 77, body: [1, 2, 3])
        let cut = try frames([buffer])
        #expect(cut.count == 1)
        #expect(cut.first?.readableBytes == 11)
        #expect(cut.first?.getInteger(at: cut.first?.readerIndex ?? 0, as: Int16.self) == 0)
        #expect(cut.first?.getInteger(at: (cut.first?.readerIndex ?? 0) + 4, as: Int32.self) == 77)
    }

    @Test func aFrameCutAtEveryPossiblePointIsDeliveredOnceAndIntact() throws {
        var whole = requestBytes(correlationId: 5, body: Array(0..<100).map { UInt8($0) })
        whole.writeImmutableBuffer(requestBytes(correlationId: 6, body: [9]))
        let total = whole.readableBytes
        let expectedFirst = whole.getSlice(at: 4, length: 108)
        for cut in 1..<total {
            let cutFrames = try frames([whole.getSlice(at: 0, length: cut) ?? ByteBuffer(),
                                        whole.getSlice(at: cut, length: total - cut) ?? ByteBuffer()])
            #expect(cutFrames.count == 2, "cut at \(cut)")
            #expect(cutFrames.first == expectedFirst, "cut at \(cut)")
            #expect(cutFrames.last?.readableBytes == 9, "cut at \(cut)")
        }
    }

    @Test func aLargeFrameArrivingInSmallReadsIsReservedOnceAtItsSize() throws {
        var accumulator = SizePrefixedFrameAccumulator(maxFrameSize: 1 << 20, minFrameSize: 8)
        var whole = requestBytes(correlationId: 3, body: Array(repeating: 0xAB, count: 200_000))
        var delivered: [ByteBuffer] = []
        var reads = 0
        var missing: [Int] = []
        while whole.readableBytes > 0, var piece = whole.readSlice(length: min(65_536, whole.readableBytes)) {
            try accumulator.feed(&piece, allocator: ByteBufferAllocator()) { delivered.append($0) }
            missing.append(accumulator.missingBytes)
            reads += 1
        }
        #expect(reads == 4)
        // What the read pacing (SO_RCVLOWAT) is set from: the body bytes still to come.
        #expect(missing == [200_008 - 65_532, 200_008 - 131_068, 200_008 - 196_604, 0])
        #expect(delivered.count == 1)
        #expect(delivered.first?.readableBytes == 200_008)
        // Reserved from the prefix (NIO rounds to a power of two), not regrown read by read.
        #expect((delivered.first?.capacity ?? 0) <= 262_144)
        #expect(accumulator.bufferedBytes == 0)
    }

    @Test func readPacingMarksStayBelowTheBytesStillToCrossTheSocket() {
        // Plain TCP: the missing bytes, capped; small remainders are not paced.
        #expect(ReadPacing.plaintext.mark(missingBytes: 0) == 1)
        #expect(ReadPacing.plaintext.mark(missingBytes: 65_535) == 1)
        #expect(ReadPacing.plaintext.mark(missingBytes: 65_536) == 65_536)
        #expect(ReadPacing.plaintext.mark(missingBytes: 300_000) == 300_000)
        #expect(ReadPacing.plaintext.mark(missingBytes: 50 << 20) == 1 << 20)
        // Behind TLS one partial record may already have left the socket: 32 KiB less.
        #expect(ReadPacing.tls.mark(missingBytes: 300_000) == 300_000 - 32_768)
        #expect(ReadPacing.tls.mark(missingBytes: 90_000) == 1)
    }

    @Test func aLyingSizeOnASilentConnectionReservesOnlyBoundedMemory() throws {
        var accumulator = SizePrefixedFrameAccumulator(maxFrameSize: 100 << 20, minFrameSize: 8,
                                                       eagerReserveLimit: 1 << 20)
        var prefix = ByteBuffer()
        prefix.writeInteger(Int32(100 << 20))
        prefix.writeBytes(Array(repeating: 0, count: 10))
        var delivered = 0
        try accumulator.feed(&prefix, allocator: ByteBufferAllocator()) { _ in delivered += 1 }
        #expect(delivered == 0)
        #expect(accumulator.bufferedBytes == 10)
    }

    @Test(arguments: [Int32.max, Int32(bitPattern: 0x8000_0000), -1, 0, 7])
    func rejectsSizesThatAreNegativeTooSmallOrTooLargeBeforeBuffering(size: Int32) {
        var buffer = ByteBuffer()
        buffer.writeInteger(size)
        #expect(throws: FrameSizeError.self) { _ = try frames([buffer], limit: 104_857_600) }
    }

    @Test func acceptsAFrameOfExactlyTheLimitAndRejectsOneByteMore() throws {
        #expect(try frames([requestBytes(correlationId: 1, body: Array(repeating: 0, count: 92))], limit: 100).count == 1)
        #expect(throws: FrameSizeError.tooLarge(size: 101, limit: 100)) {
            _ = try frames([requestBytes(correlationId: 1, body: Array(repeating: 0, count: 93))], limit: 100)
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
