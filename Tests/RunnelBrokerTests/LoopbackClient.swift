// A minimal TCP client for loopback tests: sends bytes, collects what comes back.
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Collects every inbound byte and completes `waitFor(bytes:)` waiters.
final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private struct State {
        var bytes = ByteBuffer()
        var waiters: [(count: Int, promise: EventLoopPromise<ByteBuffer>)] = []
    }
    private let state = NIOLockedValueBox(State())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let ready = state.withLockedValue { state in
            state.bytes.writeBuffer(&buffer)
            let total = state.bytes.readableBytes
            let ready = state.waiters.filter { $0.count <= total }
            state.waiters.removeAll { $0.count <= total }
            return (ready, state.bytes)
        }
        for waiter in ready.0 { waiter.promise.succeed(ready.1) }
    }

    /// Completes once `count` bytes arrived (fails if the connection closes first).
    func waitFor(bytes count: Int, on channel: any Channel) async throws -> ByteBuffer {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let already: ByteBuffer? = state.withLockedValue { state in
            if state.bytes.readableBytes >= count { return state.bytes }
            state.waiters.append((count, promise))
            return nil
        }
        if let already {
            promise.succeed(already)
        }
        channel.closeFuture.whenComplete { _ in promise.fail(ChannelError.ioOnClosedChannel) }
        return try await promise.futureResult.get()
    }
}

struct LoopbackClient {
    let channel: any Channel
    let collector: ByteCollector

    static func connect(to address: SocketAddress) async throws -> LoopbackClient {
        let collector = ByteCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(to: address).get()
        return LoopbackClient(channel: channel, collector: collector)
    }

    func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer).get()
    }

    func responses(count: Int, ofSize size: Int) async throws -> [Int32] {
        var bytes = try await collector.waitFor(bytes: count * (4 + size), on: channel)
        var ids: [Int32] = []
        while let length = bytes.readInteger(as: Int32.self), let body = bytes.readSlice(length: Int(length)) {
            if let id = body.getInteger(at: body.readerIndex, as: Int32.self) { ids.append(id) }
        }
        return ids
    }
}
