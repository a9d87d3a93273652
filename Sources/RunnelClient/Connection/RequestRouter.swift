// Matches responses to requests on one connection: assigns correlation ids on the event loop, keeps the
// promises of in-flight requests, and fails them all when the connection goes away.
import NIOCore

/// One encoded request on its way out. The frame's correlation id field is filled in by the router.
struct OutboundRequest {
    /// The whole frame: size prefix, request header, body; or its first part when `tail` is not empty.
    var frame: ByteBuffer
    /// The rest of the frame, written after `frame` without being copied into it (Produce's batches).
    var tail: [ByteBuffer] = []
    /// Completed with the response frame (after the size prefix), or nil for requests without a
    /// response (produce with acks=0).
    var promise: EventLoopPromise<ByteBuffer>?
    /// Fails the promise after this long without a response.
    var timeout: TimeAmount
}

/// Pipelines requests: any number may be in flight; Kafka answers in order, but responses are matched by
/// correlation id so a mismatch is detected rather than misdelivered.
final class RequestRouter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = ByteBuffer

    /// Byte index of the correlation id in a frame: size(4) + api key(2) + api version(2).
    static let correlationIdIndex = 8

    struct TimedOut: Error {}
    struct Closed: Error {}
    struct UnexpectedCorrelationId: Error { var id: Int32 }

    private var nextCorrelationId: Int32 = 1
    private var pending: [Int32: (promise: EventLoopPromise<ByteBuffer>, timer: Scheduled<Void>)] = [:]
    private var isClosed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var request = unwrapOutboundIn(data)
        guard !isClosed else {
            request.promise?.fail(Closed())
            promise?.fail(Closed())
            return
        }
        let id = nextCorrelationId
        nextCorrelationId = nextCorrelationId == Int32.max ? 1 : nextCorrelationId + 1
        request.frame.setInteger(id, at: request.frame.readerIndex + Self.correlationIdIndex)
        if let responsePromise = request.promise {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(in: request.timeout) {
                loopBound.value.expire(id)
            }
            pending[id] = (responsePromise, timer)
        }
        guard !request.tail.isEmpty else {
            context.write(wrapOutboundOut(request.frame), promise: promise)
            return
        }
        context.write(wrapOutboundOut(request.frame), promise: nil)
        for (index, segment) in request.tail.enumerated() {
            context.write(wrapOutboundOut(segment), promise: index == request.tail.count - 1 ? promise : nil)
        }
    }

    private func expire(_ id: Int32) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        entry.promise.fail(TimedOut())
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let id = frame.getInteger(at: frame.readerIndex, as: Int32.self),
              let entry = pending.removeValue(forKey: id) else {
            // A late answer to a request that already timed out: nothing waits for it.
            return
        }
        entry.timer.cancel()
        entry.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(Closed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        isClosed = true
        let entries = pending
        pending.removeAll()
        for (_, entry) in entries {
            entry.timer.cancel()
            entry.promise.fail(error)
        }
    }
}
