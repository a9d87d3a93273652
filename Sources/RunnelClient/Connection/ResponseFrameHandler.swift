// ResponseFrameHandler: the first inbound handler of a client connection; cuts the byte stream into
// response frames with the shared `SizePrefixedFrameAccumulator` (frames inside one read are slices of
// it, a frame spanning reads is copied once into a buffer sized from its prefix — no cumulation-buffer
// regrowth or compaction while a large Fetch response streams in).
import KafkaProtocol
import NIOCore

/// Turns inbound bytes into response frames (the size prefix removed). A prefix over `maxFrameSize`
/// (or negative) is reported through `errorCaught` as `FrameTooLarge` before anything is allocated for
/// it, and the rest of the stream is ignored (the router closes the connection).
final class ResponseFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct FrameTooLarge: Error, CustomStringConvertible {
        var size: Int
        var maximum: Int
        var description: String { "response frame of \(size) bytes exceeds the limit of \(maximum) bytes" }
    }

    private var accumulator: SizePrefixedFrameAccumulator
    private var failed = false
    /// SO_RCVLOWAT from the response in progress (a large Fetch response wakes the loop a few times,
    /// not once per segment or TLS record); nil: off, as for the broker's `KafkaFrameHandler` (an
    /// `EmbeddedChannel` in tests has no socket options).
    private var pacing: ReadPacing?

    init(maxFrameSize: Int, pacing: ReadPacing? = nil) {
        accumulator = SizePrefixedFrameAccumulator(maxFrameSize: maxFrameSize)
        self.pacing = pacing
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var buffer = unwrapInboundIn(data)
        do throws(FrameSizeError) {
            try accumulator.feed(&buffer, allocator: context.channel.allocator) { frame in
                context.fireChannelRead(wrapInboundOut(frame))
            }
            pacing?.pace(missingBytes: accumulator.missingBytes, channel: context.channel)
        } catch {
            failed = true
            switch error {
            case .tooSmall(let size, _), .tooLarge(let size, _):
                context.fireErrorCaught(FrameTooLarge(size: Int(size), maximum: accumulator.maxFrameSize))
            }
        }
    }
}
