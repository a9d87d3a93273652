// Splits the inbound byte stream into size-prefixed Kafka response frames, refusing oversized ones.
import NIOCore

/// Decodes `int32 size` + `size` bytes frames; the emitted buffer is the frame without its size prefix.
struct KafkaFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// Frames larger than this close the connection before anything is allocated for them.
    let maxFrameSize: Int

    struct FrameTooLarge: Error, CustomStringConvertible {
        var size: Int
        var maximum: Int
        var description: String { "response frame of \(size) bytes exceeds the limit of \(maximum) bytes" }
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard size >= 0, Int(size) <= maxFrameSize else {
            throw FrameTooLarge(size: Int(size), maximum: maxFrameSize)
        }
        guard buffer.readableBytes >= 4 + Int(size) else {
            // Grow once to the whole frame instead of doubling (and copying) repeatedly while a large
            // Fetch response streams in.
            buffer.reserveCapacity(minimumWritableBytes: 4 + Int(size) - buffer.readableBytes)
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(size)) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                             seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
