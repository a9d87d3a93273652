// KafkaFrameDecoder: cuts the byte stream into size-prefixed Kafka request frames.
import NIOCore

/// A `ByteToMessageDecoder` for Kafka's framing: `int32 size` followed by `size` bytes.
///
/// The size is checked against `maxRequestBytes` (`socket.request.max.bytes`) as soon as the
/// 4 prefix bytes are present, before any of the frame is buffered, so a hostile prefix cannot
/// make the broker reserve memory. A negative or too small size, or an oversized one, throws
/// a `ServerError`; the pipeline then logs and closes the connection.
public struct KafkaFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = KafkaRequestFrame

    /// The largest frame accepted (`socket.request.max.bytes`).
    public let maxRequestBytes: Int

    /// Creates a decoder accepting frames up to `maxRequestBytes`.
    public init(maxRequestBytes: Int) {
        self.maxRequestBytes = maxRequestBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.readFrame(from: &buffer, maxRequestBytes: maxRequestBytes) else {
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        // A partial frame at EOF is dropped: the client went away mid-request.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Reads one whole frame from `buffer`, or returns nil (consuming nothing) when more bytes are needed.
    public static func readFrame(from buffer: inout ByteBuffer, maxRequestBytes: Int) throws -> KafkaRequestFrame? {
        let start = buffer.readerIndex
        guard let size = buffer.getInteger(at: start, as: Int32.self) else { return nil }
        guard size >= Int32(KafkaRequestFrame.fixedHeaderSize) else { throw ServerError.invalidFrameSize(size) }
        guard Int(size) <= maxRequestBytes else { throw ServerError.frameTooLarge(size: size, limit: maxRequestBytes) }
        guard buffer.readableBytes >= 4 + Int(size),
            let apiKey = buffer.getInteger(at: start + 4, as: Int16.self),
            let apiVersion = buffer.getInteger(at: start + 6, as: Int16.self),
            let correlationId = buffer.getInteger(at: start + 8, as: Int32.self),
            let frame = buffer.getSlice(at: start + 4, length: Int(size))
        else { return nil }
        buffer.moveReaderIndex(forwardBy: 4 + Int(size))
        return KafkaRequestFrame(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, buffer: frame)
    }
}
