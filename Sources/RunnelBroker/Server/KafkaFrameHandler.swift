// KafkaFrameHandler: the first inbound handler of a connection; cuts the byte stream into request
// frames with `SizePrefixedFrameAccumulator` (one copy at most, no cumulation-buffer compaction),
// and paces the socket's wake-ups to the frame being received (SO_RCVLOWAT).
import KafkaProtocol
import NIOCore

/// Turns inbound bytes into `KafkaRequestFrame`s. A refused size prefix (`socket.request.max.bytes`,
/// or smaller than a request header) is reported as a `ServerError` through `errorCaught`, and
/// everything after it on that connection is ignored (the pipeline closes it).
final class KafkaFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = KafkaRequestFrame

    private var accumulator: SizePrefixedFrameAccumulator
    private var failed = false
    private let maxRequestBytes: Int
    /// Before SASL authentication frames are bounded by `sasl.server.max.receive.size` (nil: no SASL).
    private var unauthenticated: (session: ConnectionSession, limit: Int)?
    /// SO_RCVLOWAT from the request in progress (nil: off).
    private var pacing: ReadPacing?

    init(maxRequestBytes: Int, session: ConnectionSession? = nil, maxUnauthenticatedBytes: Int = 524_288,
         pacing: ReadPacing? = nil) {
        self.maxRequestBytes = maxRequestBytes
        self.pacing = pacing
        if let session, !session.isAuthenticated {
            unauthenticated = (session, min(maxRequestBytes, maxUnauthenticatedBytes))
        }
        accumulator = SizePrefixedFrameAccumulator(
            maxFrameSize: unauthenticated?.limit ?? maxRequestBytes, minFrameSize: KafkaRequestFrame.fixedHeaderSize)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        if let pending = unauthenticated, pending.session.isAuthenticated {
            unauthenticated = nil
            accumulator.maxFrameSize = maxRequestBytes
        }
        var buffer = unwrapInboundIn(data)
        do throws(FrameSizeError) {
            try accumulator.feed(&buffer, allocator: context.channel.allocator) { frame in
                guard let apiKey = frame.getInteger(at: frame.readerIndex, as: Int16.self),
                      let apiVersion = frame.getInteger(at: frame.readerIndex + 2, as: Int16.self),
                      let correlationId = frame.getInteger(at: frame.readerIndex + 4, as: Int32.self)
                else { return }  // unreachable: frames are at least fixedHeaderSize bytes
                context.fireChannelRead(wrapInboundOut(KafkaRequestFrame(
                    apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, buffer: frame)))
            }
            pacing?.pace(missingBytes: accumulator.missingBytes, channel: context.channel)
        } catch {
            failed = true
            switch error {
            case .tooSmall(let size, _): context.fireErrorCaught(ServerError.invalidFrameSize(size))
            case .tooLarge(let size, let limit): context.fireErrorCaught(ServerError.frameTooLarge(size: size, limit: limit))
            }
        }
    }
}
