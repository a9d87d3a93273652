// A scripted in-process Kafka server for connection tests: decodes request headers, answers through a
// closure, and can stay silent to provoke timeouts.
import KafkaProtocol
import NIOCore
import NIOPosix
import Synchronization
@testable import RunnelClient

/// A loopback server speaking Kafka framing; `respond` returns the response body, or nil for no answer.
final class FakeBroker: Sendable {
    typealias Responder = @Sendable (RequestHeader, inout ByteBuffer) -> (any KafkaMessage)?

    /// The request headers received, in order.
    final class Recorder: Sendable {
        let headers = Mutex<[RequestHeader]>([])
        func withLock<T>(_ body: (inout [RequestHeader]) -> T) -> T { headers.withLock { body(&$0) } }
    }

    let channel: any Channel
    let seen = Recorder()

    var port: Int { channel.localAddress?.port ?? 0 }
    var address: BrokerAddress { BrokerAddress(host: "127.0.0.1", port: port) }

    init(respond: @escaping Responder) async throws {
        let seen = self.seen
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(
                        ResponseFrameHandler(maxFrameSize: 1 << 20))
                    try child.pipeline.syncOperations.addHandler(Handler(respond: respond, seen: seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }

    /// Standard ApiVersions answer advertising `ranges` (key -> versions).
    static func apiVersions(_ ranges: [ApiKey: ClosedRange<Int16>]) -> ApiVersionsResponse {
        var response = ApiVersionsResponse()
        response.apiKeys = ranges.map { key, range in
            var entry = ApiVersionsResponse.ApiVersion()
            entry.apiKey = key.rawValue
            entry.minVersion = range.lowerBound
            entry.maxVersion = range.upperBound
            return entry
        }
        return response
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let respond: Responder
        let seen: Recorder

        init(respond: @escaping Responder, seen: Recorder) {
            self.respond = respond
            self.seen = seen
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var frame = unwrapInboundIn(data)
            guard let header = try? RequestHeader(from: &frame) else { return }
            seen.withLock { $0.append(header) }
            guard let body = respond(header, &frame) else { return }
            let api = ApiKey(rawValue: header.apiKey)
            // An ApiVersions error answer is always written in v0 (what a broker does for unknown versions).
            var version = header.apiVersion
            if api == .apiVersions, let response = body as? ApiVersionsResponse, response.errorCode != 0 { version = 0 }
            var out = context.channel.allocator.buffer(capacity: 256)
            out.writeInteger(Int32(0))
            ResponseHeader(correlationId: header.correlationId)
                .encode(to: &out, headerVersion: ResponseHeader.headerVersion(apiKey: header.apiKey,
                                                                              apiVersion: header.apiVersion))
            try? body.encode(to: &out, version: version)
            out.setInteger(Int32(out.readableBytes - 4), at: 0)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }
}
