// KafkaServer: binds the listeners and builds each connection's pipeline.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The Kafka-protocol TCP server: accepts connections on every listener and runs each through
/// `KafkaFrameHandler` → `RequestPipelineHandler` → the router.
///
/// Lifecycle: `start()` binds, `stopAccepting()` closes the listening sockets, `drain(timeout:)`
/// lets connections finish their in-flight requests, `closeAllConnections()` ends the rest.
public final class KafkaServer: Sendable {
    /// The settings this server runs with.
    public let configuration: ServerConfiguration
    private let router: any RequestRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let metrics: ServerMetrics
    private let registry: ConnectionRegistry
    private let serverChannels = NIOLockedValueBox<[(listener: Listener, channel: any Channel)]>([])

    /// Creates a server; nothing is bound until `start()`.
    public init(
        configuration: ServerConfiguration, router: any RequestRouter,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "runnel.server"), metrics: ServerMetrics = ServerMetrics()
    ) {
        self.configuration = configuration
        self.router = SaslRouter(inner: router)
        self.group = group
        self.logger = logger
        self.metrics = metrics
        self.registry = ConnectionRegistry(
            maxConnections: configuration.maxConnections, maxConnectionsPerIP: configuration.maxConnectionsPerIP,
            overrides: configuration.maxConnectionsPerIPOverrides)
    }

    /// Binds every listener; on failure closes the ones already bound and throws `ServerError.bindFailed`.
    public func start() async throws {
        for listener in configuration.listeners {
            do {
                let channel = try await bootstrap(for: listener).bind(host: listener.bindHost, port: listener.port).get()
                serverChannels.withLockedValue { $0.append((listener, channel)) }
                logger.info("listening", metadata: [
                    "listener": "\(listener)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                ])
            } catch {
                await stopAccepting()
                throw ServerError.bindFailed(listener: "\(listener)", reason: "\(error)")
            }
        }
    }

    /// The bound address of each listener (useful with port 0).
    public var boundAddresses: [SocketAddress] {
        serverChannels.withLockedValue { $0.compactMap { $0.channel.localAddress } }
    }

    /// The number of open client connections.
    public var connectionCount: Int { registry.count }

    /// Closes the listening sockets; open connections are left alone.
    public func stopAccepting() async {
        let channels = serverChannels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels.map(\.channel)
        }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// Asks every connection to finish its pending requests and close; returns true if all closed
    /// within `timeout`.
    public func drain(timeout: TimeAmount) async -> Bool {
        let channels = registry.channels
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ConnectionDrainEvent())
        }
        let loop = group.any()
        let result = loop.makePromise(of: Bool.self)
        let settled = NIOLockedValueBox(false)
        let settle: @Sendable (Bool) -> Void = { value in
            let first = settled.withLockedValue { done in
                defer { done = true }
                return !done
            }
            if first { result.succeed(value) }
        }
        let timer = loop.scheduleTask(in: timeout) { settle(false) }
        EventLoopFuture.andAllComplete(channels.map(\.closeFuture), on: loop).whenComplete { _ in
            timer.cancel()
            settle(true)
        }
        return (try? await result.futureResult.get()) ?? false
    }

    /// Closes every open connection at once.
    public func closeAllConnections() async {
        for channel in registry.channels {
            try? await channel.close()
        }
    }

    private func bootstrap(for listener: Listener) -> ServerBootstrap {
        let configuration = configuration
        let router = router
        let logger = logger
        let metrics = metrics
        let registry = registry
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                let index: UInt64
                do {
                    index = try registry.register(channel)
                } catch {
                    metrics.connectionRejected()
                    logger.warning("\(error)", metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                    return channel.eventLoop.makeFailedFuture(error)
                }
                metrics.connectionOpened()
                channel.closeFuture.whenComplete { _ in
                    registry.unregister(channel)
                    metrics.connectionClosed()
                }
                let connectionId = Self.connectionId(channel: channel, index: index)
                let setUp = {
                    channel.eventLoop.makeCompletedFuture {
                        let session = ConnectionSession(security: configuration.security[listener.name] ?? .plaintext)
                        try Self.addSecurityHandlers(channel.pipeline.syncOperations, session: session, logger: logger,
                                                     listenerName: listener.name)
                        try Self.configurePipeline(
                            channel.pipeline.syncOperations, configuration: configuration, router: router,
                            metrics: metrics, connectionId: connectionId, listenerName: listener.name, logger: logger,
                            session: session)
                    }
                }
                return Self.admit(channel, configuration: configuration, metrics: metrics, logger: logger, then: setUp)
            }
    }

    /// Kafka's connection rate limits: over `max.connection.creation.rate` a new connection waits before
    /// it is set up and read (Kafka's acceptor waits); over its address's `connection_creation_rate`
    /// quota it is closed after the throttle time (and not counted).
    static func admit(_ channel: any Channel, configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger,
                      then setUp: @escaping () -> EventLoopFuture<Void>) -> EventLoopFuture<Void> {
        guard let quotas = configuration.clientQuotas, let ip = channel.remoteAddress?.ipAddress else { return setUp() }
        let (delay, closeAfter) = quotas.admitConnection(ip: ip, brokerRate: configuration.maxConnectionCreationRate,
                                                         now: BrokerCore.quotaClockMs)
        let loop = channel.eventLoop.assumeIsolated()
        if let closeAfter {
            metrics.connectionRejected()
            logger.warning("connection_creation_rate quota exceeded, closing connection",
                           metadata: ["client": "\(ip)", "throttle_ms": "\(closeAfter)"])
            return loop.scheduleTask(in: .milliseconds(closeAfter)) { () throws -> Void in
                throw ServerError.connectionLimitReached("connection_creation_rate for \(ip)")
            }.futureResult
        }
        guard delay > 0 else { return setUp() }
        return loop.scheduleTask(in: .milliseconds(delay)) {}.futureResult.assumeIsolated().flatMap { setUp() }.nonisolated()
    }

    /// Adds the request pipeline's handlers (exposed for `EmbeddedChannel` tests).
    static func configurePipeline(
        _ pipeline: ChannelPipeline.SynchronousOperations, configuration: ServerConfiguration,
        router: any RequestRouter, metrics: ServerMetrics, connectionId: String, listenerName: String,
        logger: Logger, session: ConnectionSession = ConnectionSession()
    ) throws {
        try pipeline.addHandler(KafkaFrameHandler(maxRequestBytes: configuration.maxRequestBytes, session: session,
                                                  maxUnauthenticatedBytes: configuration.maxUnauthenticatedRequestBytes,
                                                  pacing: session.security.securityProtocol.usesTLS ? .tls : .plaintext))
        try pipeline.addHandler(RequestPipelineHandler(
            router: router, maxPendingRequests: configuration.maxPendingRequestsPerConnection,
            idleTimeout: configuration.idleTimeout, metrics: metrics,
            connectionId: connectionId, listenerName: listenerName, logger: logger, session: session,
            requestMemory: configuration.requestMemory))
    }

    private static func connectionId(channel: any Channel, index: UInt64) -> String {
        let local = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        let remote = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        return "\(local)-\(remote)-\(index)"
    }
}
