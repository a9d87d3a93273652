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
/// the queue drains below the bound. Reads are also held while the channel is not writable (the
/// client is not reading its responses), so neither side's queue grows without bound. Frames
/// already buffered in one read may overshoot the bound a little.
///
/// Idle timeout (`connections.max.idle.ms`): a connection with no request read and no response
/// written for that long, and nothing pending, is closed. Times come from the event loop's clock
/// (`EventLoop.now`), so tests can drive them with an `EmbeddedEventLoop`.
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
        /// The request's bytes counted in `queued.max.request.bytes` until it is answered.
        var requestBytes: Int
    }

    private let router: any RequestRouter
    private let maxPendingRequests: Int
    private let idleTimeout: TimeAmount
    private var lastActivity: NIODeadline = .distantPast
    private var idleCheck: Scheduled<Void>?
    private let metrics: ServerMetrics
    private let connectionId: String
    private let listenerName: String
    private let session: ConnectionSession
    private var logger: Logger
    private var requestContext: RequestContext?
    private var context: ChannelHandlerContext?
    private var pending = CircularBuffer<Pending>(initialCapacity: 8)
    private var nextSequence: UInt64 = 0
    private var readHeld = false
    private var draining = false
    private var closing = false
    /// While a read burst is delivered, flushes wait for `channelReadComplete` (one syscall per burst).
    private var inReadBurst = false
    private var flushPending = false
    /// A flush is queued on the event loop: responses completed meanwhile go out in the same syscall.
    private var flushScheduled = false
    /// Reading resumes when a client quota's mute ends (`RequestContext.throttle`).
    private var unmute: Scheduled<Void>?
    /// `queued.max.request.bytes`: shared by every connection.
    private let requestMemory: RequestMemoryBudget
    /// While the shared budget is used up, reading is retried on this timer.
    private var memoryRetry: Scheduled<Void>?

    init(
        router: any RequestRouter, maxPendingRequests: Int, idleTimeout: TimeAmount, metrics: ServerMetrics,
        connectionId: String, listenerName: String, logger: Logger, session: ConnectionSession = ConnectionSession(),
        requestMemory: RequestMemoryBudget = RequestMemoryBudget(limit: -1)
    ) {
        self.requestMemory = requestMemory
        self.router = router
        self.maxPendingRequests = max(1, maxPendingRequests)
        self.idleTimeout = idleTimeout
        self.metrics = metrics
        self.connectionId = connectionId
        self.listenerName = listenerName
        self.logger = logger
        self.session = session
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let client = context.channel.remoteAddress
        logger[metadataKey: "connection"] = "\(connectionId)"
        if let client { logger[metadataKey: "client"] = "\(client)" }
        requestContext = RequestContext(
            eventLoop: context.eventLoop, clientAddress: client, localAddress: context.channel.localAddress,
            connectionId: connectionId,
            listenerName: listenerName, logger: logger, session: session)
        lastActivity = context.eventLoop.now
        scheduleIdleCheck(context: context, at: lastActivity + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        unmute?.cancel()
        unmute = nil
        memoryRetry?.cancel()
        memoryRetry = nil
        self.context = nil
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        idleCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard !closing, let context = self.context else { return }
            let idleSince = lastActivity
            if pending.isEmpty && context.eventLoop.now - idleSince >= idleTimeout {
                logger.info("closing idle connection", metadata: ["idle_ms": "\(idleTimeout.nanoseconds / 1_000_000)"])
                close()
            } else {
                // Busy (a long poll is pending) or active since: look again one timeout later.
                let next = pending.isEmpty ? idleSince + idleTimeout : context.eventLoop.now + idleTimeout
                scheduleIdleCheck(context: context, at: next)
            }
        }
    }

    /// The number of requests whose responses are not written yet (for tests and metrics).
    var pendingCount: Int { pending.count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, let requestContext else { return }
        inReadBurst = true
        lastActivity = context.eventLoop.now
        let frame = unwrapInboundIn(data)
        let sequence = nextSequence
        nextSequence &+= 1
        let requestBytes = frame.buffer.readableBytes + 4
        requestMemory.acquire(requestBytes)
        pending.append(Pending(
            sequence: sequence, apiKey: frame.apiKey, correlationId: frame.correlationId,
            started: .now(), payload: nil, requestBytes: requestBytes))
        metrics.requestReceived(apiKey: frame.apiKey, apiVersion: frame.apiVersion, bytes: frame.buffer.readableBytes + 4)
        router.route(frame, context: requestContext)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in self.complete(sequence: sequence, result: result) }
    }

    private func complete(sequence: UInt64, result: Result<ResponsePayload, any Error>) {
        // Pending holds the contiguous sequences head.sequence ..< nextSequence.
        guard !closing, let head = pending.first, sequence >= head.sequence,
            sequence - head.sequence < UInt64(pending.count)
        else { return }
        let index = pending.index(pending.startIndex, offsetBy: Int(sequence - head.sequence))
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
            requestMemory.release(first.requestBytes)
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
                if case .file(_, let lease?) = part {
                    // Hold the lease (and so the open file) until NIO is done with the region.
                    let written = context.eventLoop.makePromise(of: Void.self)
                    written.futureResult.whenComplete { _ in withExtendedLifetime(lease) {} }
                    context.write(wrapOutboundOut(part.ioData), promise: written)
                } else {
                    context.write(wrapOutboundOut(part.ioData), promise: nil)
                }
            }
            metrics.bytesSent(size + 4)
            wrote = true
        }
        if session.security.securityProtocol.usesSASL && session.closeAfterResponse {
            // Failed authentication: the answer goes out, then the connection closes.
            context.flush()
            close()
            return
        }
        if wrote {
            lastActivity = context.eventLoop.now
            if inReadBurst { flushPending = true } else { scheduleFlush(context: context) }
        }
        if draining {
            if pending.isEmpty { close() }
        } else {
            releaseHeldRead(context: context)
        }
    }

    /// Flushes once the event loop has run the tasks already queued on it. Responses that complete
    /// together (one group commit acknowledges many pipelined produces, each completion a separate
    /// task on this loop) then leave in one `writev` instead of one syscall each.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            guard !closing, let context = self.context else { return }
            context.flush()
        }
    }

    private var mayRead: Bool {
        !draining && pending.count < pendingLimit && (context?.channel.isWritable ?? false) && !muted && memoryAvailable
    }

    /// A client with a quota is read one request at a time (Kafka's way for every connection).
    private var pendingLimit: Int {
        requestContext?.throttle.isLimited == true ? 1 : maxPendingRequests
    }

    /// Gives back the budget of requests that will never be answered (the connection is closing).
    private func releasePending() {
        for entry in pending { requestMemory.release(entry.requestBytes) }
        pending.removeAll()
    }

    /// `queued.max.request.bytes` has room; else reading is retried in 10 ms (the budget is shared, so
    /// no single connection's answer can announce it).
    private var memoryAvailable: Bool {
        if requestMemory.available { return true }
        if memoryRetry == nil, let context {
            memoryRetry = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { [self] in
                memoryRetry = nil
                guard !closing, let context = self.context else { return }
                releaseHeldRead(context: context)
            }
        }
        return false
    }

    /// A throttled response muted the connection (Kafka's ThrottledChannel): no reads until the mute
    /// ends; a timer then resumes reading.
    private var muted: Bool {
        guard let context, let throttle = requestContext?.throttle, throttle.wasEverMuted,
              let until = throttle.mutedUntil(after: context.eventLoop.now) else { return false }
        if unmute == nil {
            unmute = context.eventLoop.assumeIsolated().scheduleTask(deadline: until) { [self] in
                unmute = nil
                guard !closing, let context = self.context else { return }
                releaseHeldRead(context: context)
            }
        }
        return true
    }

    private func releaseHeldRead(context: ChannelHandlerContext) {
        guard readHeld, mayRead else { return }
        readHeld = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        releaseHeldRead(context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if mayRead {
            context.read()
        } else {
            readHeld = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ConnectionDrainEvent {
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
        releasePending()
        idleCheck?.cancel()
        context.fireChannelInactive()
    }

    private func close() {
        guard !closing, let context else { return }
        closing = true
        releasePending()
        // Responses already written in full still go out (a queued flush would run after the close).
        if flushScheduled || flushPending { context.flush() }
        context.close(promise: nil)
    }
}
