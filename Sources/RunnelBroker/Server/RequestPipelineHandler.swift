// RequestPipelineHandler: per-connection request dispatch, in-order responses, backpressure, idle close.
import Logging
import NIOCore

/// Sent down a connection's pipeline when the broker shuts down: stop reading, finish what is
/// pending, then close.
public struct ConnectionDrainEvent: Sendable {
    /// Creates the event.
    public init() {}
}

/// Dispatches each decoded request to the router and writes the responses in request order.
///
/// Kafka clients pipeline requests and match responses by order as well as correlation id, so a
/// response that completes early waits in a per-connection queue until every earlier one was
/// written. Backpressure: when `maxPendingRequests` responses are outstanding the handler holds
/// back `read()` (the socket stops being read, TCP flow control pushes back on the client) until
/// the queue drains below the bound. Frames already buffered in one read may overshoot it a little.
final class RequestPipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = KafkaRequestFrame
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private struct Pending {
        var sequence: UInt64
        var apiKey: Int16
        var correlationId: Int32
        var started: NIODeadline
        var payload: ResponsePayload?
    }

    private let router: any RequestRouter
    private let maxPendingRequests: Int
    private let metrics: ServerMetrics
    private let connectionId: String
    private let listenerName: String
    private var logger: Logger
    private var requestContext: RequestContext?
    private var context: ChannelHandlerContext?
    private var pending = CircularBuffer<Pending>(initialCapacity: 8)
    private var nextSequence: UInt64 = 0
    private var readHeld = false
    private var draining = false
    private var closing = false

    init(
        router: any RequestRouter, maxPendingRequests: Int, metrics: ServerMetrics,
        connectionId: String, listenerName: String, logger: Logger
    ) {
        self.router = router
        self.maxPendingRequests = max(1, maxPendingRequests)
        self.metrics = metrics
        self.connectionId = connectionId
        self.listenerName = listenerName
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let client = context.channel.remoteAddress
        logger[metadataKey: "connection"] = "\(connectionId)"
        if let client { logger[metadataKey: "client"] = "\(client)" }
        requestContext = RequestContext(
            eventLoop: context.eventLoop, clientAddress: client, connectionId: connectionId,
            listenerName: listenerName, logger: logger)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The number of requests whose responses are not written yet (for tests and metrics).
    var pendingCount: Int { pending.count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, let requestContext else { return }
        let frame = unwrapInboundIn(data)
        let sequence = nextSequence
        nextSequence &+= 1
        pending.append(Pending(
            sequence: sequence, apiKey: frame.apiKey, correlationId: frame.correlationId,
            started: .now(), payload: nil))
        metrics.requestReceived(apiKey: frame.apiKey, bytes: frame.buffer.readableBytes + 4)
        router.route(frame, context: requestContext)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in self.complete(sequence: sequence, result: result) }
    }

    private func complete(sequence: UInt64, result: Result<ResponsePayload, any Error>) {
        guard !closing, let head = pending.first, sequence >= head.sequence else { return }
        let index = pending.index(pending.startIndex, offsetBy: Int(sequence - head.sequence))
        guard index < pending.endIndex else { return }
        switch result {
        case .success(let payload):
            pending[index].payload = payload
            writeReadyResponses()
        case .failure(let error):
            let entry = pending[index]
            logger.warning("request failed, closing connection", metadata: [
                "api_key": "\(entry.apiKey)", "correlation": "\(entry.correlationId)", "error": "\(error)",
            ])
            close()
        }
    }

    private func writeReadyResponses() {
        guard let context else { return }
        var wrote = false
        while let first = pending.first, let payload = first.payload {
            pending.removeFirst()
            metrics.requestCompleted(apiKey: first.apiKey, since: first.started)
            guard case .parts(let parts) = payload else { continue }
            let size = payload.byteCount
            guard size <= Int(Int32.max) else {
                logger.error("response too large, closing connection", metadata: [
                    "api_key": "\(first.apiKey)", "correlation": "\(first.correlationId)", "size": "\(size)",
                ])
                close()
                return
            }
            var prefix = context.channel.allocator.buffer(capacity: 4)
            prefix.writeInteger(Int32(size))
            context.write(wrapOutboundOut(.byteBuffer(prefix)), promise: nil)
            for part in parts {
                context.write(wrapOutboundOut(part.ioData), promise: nil)
            }
            metrics.bytesSent(size + 4)
            wrote = true
        }
        if wrote { context.flush() }
        if draining {
            if pending.isEmpty { close() }
        } else if readHeld && pending.count < maxPendingRequests {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if draining || pending.count >= maxPendingRequests {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            // A connection waiting on a long poll is busy, not idle.
            if pending.isEmpty {
                logger.info("closing idle connection")
                close()
            }
        } else if event is ConnectionDrainEvent {
            draining = true
            readHeld = true
            if pending.isEmpty { close() }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case ServerError.frameTooLarge(let size, let limit):
            logger.warning("request too large, closing connection", metadata: [
                "size": "\(size)", "limit": "\(limit)",
            ])
        case ServerError.invalidFrameSize(let size):
            logger.warning("invalid request size, closing connection", metadata: ["size": "\(size)"])
        default:
            logger.debug("connection error, closing connection", metadata: ["error": "\(error)"])
        }
        close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        pending.removeAll()
        context.fireChannelInactive()
    }

    private func close() {
        guard !closing, let context else { return }
        closing = true
        pending.removeAll()
        context.close(promise: nil)
    }
}
