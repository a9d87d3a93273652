// KafkaFrameHandler: the first inbound handler of a connection; cuts the byte stream into request
// frames with `SizePrefixedFrameAccumulator` (one copy at most, no cumulation-buffer compaction),
// and paces the socket's wake-ups to the frame being received (SO_RCVLOWAT).
import KafkaProtocol
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

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
    /// Read pacing (nil: off): see `paceReads`.
    private var pacing: ReadPacing?
    /// The socket's SO_RCVLOWAT as last set (1: the kernel's default, wake on any byte).
    private var lowWater = 1

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
            paceReads(context: context)
        } catch {
            failed = true
            switch error {
            case .tooSmall(let size, _): context.fireErrorCaught(ServerError.invalidFrameSize(size))
            case .tooLarge(let size, let limit): context.fireErrorCaught(ServerError.frameTooLarge(size: size, limit: limit))
            }
        }
    }

    /// While a large request is incomplete, asks the kernel to wake this connection's event loop only
    /// once most of the request's missing bytes have arrived (SO_RCVLOWAT), instead of for every segment:
    /// a producer over TLS writes one 16 KiB record per send, and each used to cost the event loop a
    /// wake-up (about 50,000 context switches per GB against 5,000 in plaintext). The mark stays below
    /// the bytes that must still cross the socket — minus `slack` for what a layer in front of this
    /// handler may hold already (TLS: one partial record) — so it never waits for bytes that are not
    /// coming; it drops back to 1 as the frame completes. Linux also wakes the reader when its receive
    /// buffer fills, whatever the mark.
    private func paceReads(context: ChannelHandlerContext) {
        guard let pacing else { return }
        let missing = accumulator.missingBytes - pacing.slack
        let wanted = missing >= pacing.minimum ? min(missing, pacing.maximum) : 1
        // Lower it at once (never wait for more than is coming); raise it only when that halves the
        // wake-ups, so a frame in progress costs a few setsockopt calls, not one per read.
        guard wanted < lowWater || wanted >= lowWater * 2 else { return }
        #if canImport(Glibc)
        let option = ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        do {
            try context.channel.syncOptions?.setOption(option, value: SocketOptionValue(wanted))
            lowWater = wanted
        } catch {
            // Not a TCP socket (tests' embedded channels) or refused: no pacing, reads work as before.
            self.pacing = nil
        }
        #endif
    }
}

/// SO_RCVLOWAT pacing of a connection's reads (`KafkaFrameHandler.paceReads`).
struct ReadPacing: Sendable {
    /// Bytes a handler in front of the frame handler may hold already (TLS: one partial record of at
    /// most 16 KiB + 2 KiB of expansion + its header), subtracted from the frame's missing bytes.
    var slack: Int
    /// Frames missing fewer bytes than this are not paced (the wake-ups saved do not pay the syscalls).
    var minimum = 64 << 10
    /// The highest mark set (Linux caps it at half the receive buffer anyway).
    var maximum = 1 << 20

    static let plaintext = ReadPacing(slack: 0)
    static let tls = ReadPacing(slack: 32 << 10)
}
