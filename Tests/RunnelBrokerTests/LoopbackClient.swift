// A minimal TCP client for loopback tests: sends bytes, collects what comes back.
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Collects every inbound byte and completes `waitFor(bytes:)` waiters.
final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private struct State {
        var bytes = ByteBuffer()
        var waiters: [(id: Int, count: Int, promise: EventLoopPromise<ByteBuffer>)] = []
        var nextID = 0
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
        let (already, id): (ByteBuffer?, Int) = state.withLockedValue { state in
            if state.bytes.readableBytes >= count { return (state.bytes, -1) }
            state.nextID += 1
            state.waiters.append((state.nextID, count, promise))
            return (nil, state.nextID)
        }
        if let already {
            promise.succeed(already)  // NIO insists every promise is completed
            return already
        }
        channel.closeFuture.whenComplete { [state] _ in
            // Fail the waiter only if the bytes never came (a promise completes once).
            let stillWaiting = state.withLockedValue { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
                state.waiters.remove(at: index)
                return true
            }
            if stillWaiting { promise.fail(ChannelError.ioOnClosedChannel) }
        }
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
