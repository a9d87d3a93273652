// MetricsServer: a small HTTP endpoint serving /metrics (Prometheus text), /health and /ready.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves the Prometheus registry on `metrics.listener`:
/// `GET /metrics` (text exposition format), `GET /health` (200 while the process runs),
/// `GET /ready` (200 once listeners are bound, 503 before and during shutdown).
public final class MetricsServer: Sendable {
    /// Families computed at scrape time (partitions, groups), appended after the registry's.
    public typealias ScrapeCollector = @Sendable () async -> [UInt8]
    /// Renders a page (the web console) for a GET or a form POST, nil when the path is not one of its pages.
    public typealias PageRenderer = @Sendable (_ request: PageRequest) async -> (status: Int, contentType: String, body: String)?

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

    /// Creates the server; nothing is bound until `start`. `collector` renders the families computed
    /// when `/metrics` is scraped.
    public init(registry: PrometheusCollectorRegistry, state: BrokerState, group: any EventLoopGroup, logger: Logger,
                collector: ScrapeCollector? = nil, pages: PageRenderer? = nil) {
        self.registry = registry
        self.state = state
        self.group = group
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
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry, state: state,
                                                                                         collector: collector, pages: pages))
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
    }
}

/// Answers one HTTP request per head/end pair.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let state: BrokerState
    private let collector: MetricsServer.ScrapeCollector?
    private let pages: MetricsServer.PageRenderer?
    private var request: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false

    init(registry: PrometheusCollectorRegistry, state: BrokerState, collector: MetricsServer.ScrapeCollector?,
         pages: MetricsServer.PageRenderer? = nil) {
        self.registry = registry
        self.state = state
        self.collector = collector
        self.pages = pages
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
            let metrics = context.channel.allocator.buffer(bytes: registry.emitToBuffer())
            guard let collector else {
                send(head: head, status: .ok, contentType: Self.metricsContentType, body: metrics, context: context)
                return
            }
            // Scrape-time families need the coordinators (actors): render off the event loop, answer on it.
            // The HTTP pipeline handler holds later requests of this connection until this answer ends.
            context.eventLoop.makeFutureWithTask { await collector() }.assumeIsolated().whenSuccess { scraped in
                var body = metrics
                body.writeBytes(scraped)
                self.send(head: head, status: .ok, contentType: Self.metricsContentType, body: body, context: context)
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
            context.eventLoop.makeFutureWithTask { await pages(pageRequest) }.assumeIsolated().whenSuccess { page in
                guard let page else {
                    var body = context.channel.allocator.buffer(capacity: 64)
                    body.writeString("not found; try /, /metrics, /health or /ready\n")
                    self.send(head: head, status: .notFound, contentType: "text/plain; charset=utf-8", body: body, context: context)
                    return
                }
                let body = context.channel.allocator.buffer(string: page.body)
                self.send(head: head, status: HTTPResponseStatus(statusCode: page.status), contentType: page.contentType,
                          body: body, context: context)
            }
            return
        default:
            status = .notFound
            body.writeString("not found; try /metrics, /health or /ready\n")
        }
        send(head: head, status: status, contentType: contentType, body: body, context: context)
    }

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    private func send(head: HTTPRequestHead, status: HTTPResponseStatus, contentType: String, body: ByteBuffer,
                      context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
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
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
