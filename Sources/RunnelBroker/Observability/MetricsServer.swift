// MetricsServer: a small HTTP endpoint serving /metrics (Prometheus text), /health and /ready.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Synchronization

/// Serves the Prometheus registry on `metrics.listener`:
/// `GET /metrics` (text exposition format), `GET /health` (200 while the process runs),
/// `GET /ready` (200 once listeners are bound, 503 before and during shutdown).
public final class MetricsServer: Sendable {
    /// Families computed at scrape time (partitions, groups), appended after the registry's: the async
    /// part reads the broker's state (locks, actors) at normal priority on the concurrency pool and
    /// returns the writer, which runs on the endpoint's low-priority thread (decision 0015).
    public typealias ScrapeCollector = @Sendable () async -> @Sendable () -> [UInt8]
    /// A page ready to be written: no lock, no actor, only the data read before (decision 0015).
    public typealias PreparedPage = @Sendable () -> (status: Int, contentType: String, body: String)
    /// Reads what a page (the web console) for a GET or a form POST shows and returns its writer, nil
    /// when the path is not one of its pages.
    public typealias PageRenderer = @Sendable (_ request: PageRequest) async -> PreparedPage?

    /// What a page renderer sees of an HTTP request.
    public struct PageRequest: Sendable {
        public var method: String
        public var uri: String
        /// The `Host` header.
        public var host: String?
        /// The `Origin` header (browsers send it with every form POST), else the `Referer` header.
        public var origin: String?
        /// The request body (a form POST's `application/x-www-form-urlencoded` fields).
        public var body: String
        /// The `Authorization` header (the console's HTTP Basic credentials).
        public var authorization: String?
        /// The client's IP address.
        public var clientAddress: String?
    }

    /// The largest request body read (a console form); a larger one is answered 413.
    static let maxBodyBytes = 64 * 1024

    private let registry: PrometheusCollectorRegistry
    private let state: BrokerState
    private let group: any EventLoopGroup
    private let logger: Logger
    private let collector: ScrapeCollector?
    private let pages: PageRenderer?
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    /// The endpoint's own event loops (the `async` init's), shut down by `stop`: `group` (HTTP, at normal
    /// priority) and `writer`'s (the low-priority thread).
    private let ownGroups: [MultiThreadedEventLoopGroup]
    /// Where pages and `/metrics` are written (the low-priority thread); nil: on the connection's loop.
    private let writer: (any EventLoop)?
    /// Pages and scrapes between their request and their answer, bounded by `maxPendingPages`.
    let pending = PendingPages()
    /// When each page or scrape may start reading (`metrics.listener.max.requests.per.second`).
    let pacer: RequestPacer
    /// Page loads and scrapes waiting or being written at most; more are answered 503 with Retry-After.
    static let maxPendingPages = 128

    /// Creates the server on `group`; nothing is bound until `start`. `collector` renders the families
    /// computed when `/metrics` is scraped.
    public convenience init(registry: PrometheusCollectorRegistry, state: BrokerState, group: any EventLoopGroup, logger: Logger,
                            maxRequestsPerSecond: Int = 0, collector: ScrapeCollector? = nil, pages: PageRenderer? = nil) {
        self.init(registry: registry, state: state, group: group, ownGroups: [], writer: nil, logger: logger,
                  maxRequestsPerSecond: maxRequestsPerSecond, collector: collector, pages: pages)
    }

    /// A server on two event loop threads of its own (decisions 0015, 0019): pages and `/metrics` are
    /// written on one lowered to `SCHED_IDLE`, so they use only CPU time the Kafka listeners leave idle;
    /// reading the broker's state for them stays on the concurrency pool at normal priority, so the
    /// low-priority thread never holds a lock or an actor the Kafka path waits on. HTTP (accepting,
    /// parsing, routing, socket writes) and `/health` and `/ready` run on the other at normal priority,
    /// so probes answer at once however busy the CPU and however many pages wait. Pages and scrapes
    /// start at most `maxRequestsPerSecond` a second after a burst of as many (0: no limit; decision 0023).
    public convenience init(registry: PrometheusCollectorRegistry, state: BrokerState, logger: Logger,
                            maxRequestsPerSecond: Int = 0, collector: ScrapeCollector? = nil,
                            pages: PageRenderer? = nil) async {
        let http = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idle = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let writer = idle.next()
        let priority = (try? await writer.submit { IdleThreadPriority.lowerCallingThread() }.get()) ?? .unchanged
        logger.info("metrics endpoint thread", metadata: ["scheduling": "\(priority.rawValue)"])
        self.init(registry: registry, state: state, group: http, ownGroups: [http, idle], writer: writer, logger: logger,
                  maxRequestsPerSecond: maxRequestsPerSecond, collector: collector, pages: pages)
    }

    private init(registry: PrometheusCollectorRegistry, state: BrokerState, group: any EventLoopGroup,
                 ownGroups: [MultiThreadedEventLoopGroup], writer: (any EventLoop)?, logger: Logger,
                 maxRequestsPerSecond: Int, collector: ScrapeCollector?, pages: PageRenderer?) {
        self.pacer = RequestPacer(perSecond: maxRequestsPerSecond)
        self.registry = registry
        self.state = state
        self.group = group
        self.ownGroups = ownGroups
        self.writer = writer
        self.logger = logger
        self.collector = collector
        self.pages = pages
    }

    /// Binds the endpoint.
    public func start(host: String, port: Int) async throws {
        let registry = registry
        let state = state
        let collector = collector
        let pages = pages
        let pending = pending
        let pacer = pacer
        let writer = writer
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry, state: state,
                                                                                         collector: collector, pages: pages,
                                                                                         pending: pending, pacer: pacer,
                                                                                         writer: writer))
                }
            }
            .bind(host: host, port: port).get()
        channel.withLockedValue { $0 = bound }
        logger.info("metrics endpoint listening", metadata: ["address": "\(bound.localAddress.map { "\($0)" } ?? "?")"])
    }

    /// The bound address (useful with port 0).
    public var boundAddress: SocketAddress? { channel.withLockedValue { $0?.localAddress } }

    /// Closes the endpoint.
    public func stop() async {
        let bound = channel.withLockedValue { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
        for group in ownGroups { try? await group.shutdownGracefully() }
    }
}

/// When pages and scrapes may start (decision 0023): at most `perSecond` a second after a burst of as
/// many, in arrival order (the generic cell rate algorithm, scheduling instead of refusing). A request
/// that must wait is a timer on the HTTP thread until its turn: waiting costs no CPU, so a flood of page
/// loads takes a bounded share of the machine from the Kafka listeners, whatever the number of clients.
final class RequestPacer: Sendable {
    /// Nanoseconds between two starts; 0: no pacing.
    private let interval: Int64
    /// How far the theoretical schedule may run ahead of now before a request waits: a burst.
    private let tolerance: Int64
    /// The theoretical start of the next request, on the `NIODeadline` clock.
    private let next = Mutex<Int64>(0)

    init(perSecond: Int) {
        interval = perSecond > 0 ? 1_000_000_000 / Int64(perSecond) : 0
        tolerance = perSecond > 0 ? Int64(perSecond - 1) * interval : 0
    }

    /// Reserves the next start for a request arriving `now` (nanoseconds of `NIODeadline`'s clock) and
    /// returns how long it waits for it: 0 within the burst.
    func reserve(now: Int64) -> Int64 {
        guard interval > 0 else { return 0 }
        return next.withLock { next in
            let start = max(now, next - tolerance)
            next = max(next, now) + interval
            return start - now
        }
    }
}

/// Counts the pages and scrapes between request and answer (`MetricsServer.maxPendingPages`).
final class PendingPages: Sendable {
    private let count = Atomic<Int>(0)

    /// Takes a place, false when all are taken.
    func enter(limit: Int) -> Bool {
        if count.add(1, ordering: .relaxed).newValue <= limit { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() { count.subtract(1, ordering: .relaxed) }

    var current: Int { count.load(ordering: .relaxed) }
}

/// Answers one HTTP request per head/end pair.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let state: BrokerState
    private let collector: MetricsServer.ScrapeCollector?
    private let pages: MetricsServer.PageRenderer?
    private let pending: PendingPages
    private let pacer: RequestPacer
    private let writer: (any EventLoop)?
    private var request: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false

    init(registry: PrometheusCollectorRegistry, state: BrokerState, collector: MetricsServer.ScrapeCollector?,
         pages: MetricsServer.PageRenderer? = nil, pending: PendingPages = PendingPages(),
         pacer: RequestPacer = RequestPacer(perSecond: 0), writer: (any EventLoop)? = nil) {
        self.registry = registry
        self.state = state
        self.collector = collector
        self.pages = pages
        self.pending = pending
        self.pacer = pacer
        self.writer = writer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            body = nil
            bodyTooLarge = false
        case .body(var part):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + part.readableBytes > MetricsServer.maxBodyBytes {
                bodyTooLarge = true
                body = nil
            } else if body == nil {
                body = part
            } else {
                body?.writeBuffer(&part)
            }
        case .end:
            guard let head = request else { return }
            request = nil
            if bodyTooLarge {
                var text = context.channel.allocator.buffer(capacity: 64)
                text.writeString("request body too large\n")
                send(head: head, status: .payloadTooLarge, contentType: "text/plain; charset=utf-8", body: text, context: context)
                return
            }
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        var body = context.channel.allocator.buffer(capacity: 256)
        let contentType = "text/plain; charset=utf-8"
        switch (head.method, path) {
        case (.GET, "/metrics"):
            // Emitting takes the histograms' locks (which requests take too) and the scrape-time families
            // need the coordinators (actors): read at normal priority off this thread, write the text here.
            let registry = registry
            let collector = collector
            prepare(head: head, context: context) {
                let emitted = registry.emitToBuffer()
                let write = await collector?()
                return {
                    var body = ByteBuffer(bytes: emitted)
                    if let write { body.writeBytes(write()) }
                    return (200, Self.metricsContentType, body)
                }
            }
            return
        case (.GET, "/health"):
            status = .ok
            body.writeString("ok\n")
        case (.GET, "/ready"):
            status = state.isReady ? .ok : .serviceUnavailable
            body.writeString(state.isReady ? "ready\n" : "not ready\n")
        case (.GET, _) where pages != nil, (.POST, _) where pages != nil:
            guard let pages else { return }
            let pageRequest = MetricsServer.PageRequest(
                method: head.method.rawValue, uri: head.uri, host: head.headers.first(name: "Host"),
                origin: head.headers.first(name: "Origin") ?? head.headers.first(name: "Referer"),
                body: self.body.map { String(buffer: $0) } ?? "", authorization: head.headers.first(name: "Authorization"),
                clientAddress: context.channel.remoteAddress?.ipAddress)
            self.body = nil
            prepare(head: head, context: context) {
                guard let page = await pages(pageRequest) else { return nil }
                return {
                    let written = page()
                    return (written.status, written.contentType, ByteBuffer(string: written.body))
                }
            }
            return
        default:
            status = .notFound
            body.writeString("not found; try /metrics, /health or /ready\n")
        }
        send(head: head, status: status, contentType: contentType, body: body, context: context)
    }

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// An answer in two steps (decision 0015): `read` runs as a task on the concurrency pool at normal
    /// priority (short: locks, actors, the log), the writer it returns runs on `writer` (the endpoint's
    /// low-priority thread), and the bytes it wrote are sent from this handler's event loop (decision
    /// 0019). Past `MetricsServer.maxPendingPages` answers in progress, 503 with Retry-After at once.
    /// The read starts when the pacer says (decision 0023); until then the request is only a timer.
    /// The HTTP pipeline handler holds later requests of this connection until this answer ends.
    private func prepare(head: HTTPRequestHead, context: ChannelHandlerContext,
                         read: @escaping @Sendable () async -> (@Sendable () -> (Int, String, ByteBuffer))?) {
        guard pending.enter(limit: MetricsServer.maxPendingPages) else {
            var body = context.channel.allocator.buffer(capacity: 64)
            body.writeString("busy: too many page loads in progress; retry in a second\n")
            send(head: head, status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: body,
                 context: context, retryAfter: true)
            return
        }
        let pending = pending
        let writer = writer ?? context.eventLoop
        let wait = pacer.reserve(now: Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds))
        let turn: EventLoopFuture<Void> = wait > 0
            ? context.eventLoop.scheduleTask(in: .nanoseconds(wait)) {}.futureResult
            : context.eventLoop.makeSucceededVoidFuture()
        // A client that went away while its request waited for its turn costs no read and no page.
        let channel = context.channel
        let written = turn.flatMap { () -> EventLoopFuture<(Int, String, ByteBuffer)?> in
            guard channel.isActive else { return channel.eventLoop.makeSucceededFuture(nil) }
            return writer.makeFutureWithTask { await read() }.map { write in write.map { $0() } }
        }
        written.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            defer { pending.leave() }
            guard channel.isActive else { return }
            guard case .success(let answer) = result, let answer else {
                var body = context.channel.allocator.buffer(capacity: 64)
                body.writeString("not found; try /, /metrics, /health or /ready\n")
                self.send(head: head, status: .notFound, contentType: "text/plain; charset=utf-8", body: body, context: context)
                return
            }
            let (status, contentType, body) = answer
            self.send(head: head, status: HTTPResponseStatus(statusCode: status), contentType: contentType,
                      body: body, context: context)
        }
    }

    private func send(head: HTTPRequestHead, status: HTTPResponseStatus, contentType: String, body: ByteBuffer,
                      context: ChannelHandlerContext, retryAfter: Bool = false) {
        var headers = HTTPHeaders()
        if retryAfter { headers.add(name: "Retry-After", value: "1") }
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        if status == .unauthorized {
            headers.add(name: "WWW-Authenticate", value: "Basic realm=\"\(ConsoleAuthentication.realm)\", charset=\"UTF-8\"")
        }
        if contentType.hasPrefix("text/html") {
            // The console's pages escape every value; this policy is the second wall: no script, no
            // external resource, forms only to this server.
            headers.add(name: "Content-Security-Policy",
                        value: "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
            headers.add(name: "X-Content-Type-Options", value: "nosniff")
        }
        let keepAlive = head.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if head.version.major == 1 && head.version.minor == 0 {
            // An HTTP/1.0 client that asked for keep-alive assumes the server closes unless the answer
            // says otherwise, and would wait for that close (ApacheBench's `-k` does).
            headers.add(name: "Connection", value: "keep-alive")
        }
        let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
