// Broker: the runnable broker service — config, router, listeners, metrics endpoint, graceful shutdown.
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The broker as a swift-service-lifecycle `Service`: `run()` starts everything and returns after
/// a graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`, or task cancellation).
///
/// Shutdown order: readiness goes false; listening sockets close (no new connections); each
/// connection stops reading and finishes its in-flight requests, bounded by `shutdown.timeout.ms`,
/// after which the rest are closed; then `shutdownHook` runs (storage flushes and writes its
/// clean-shutdown marker); then the metrics endpoint stops.
///
/// To plug in handlers and storage, pass a `routerFactory` that opens storage and builds the
/// router, and a `shutdownHook` that closes storage.
public struct Broker: Service {
    /// Builds the request router once the configuration is known (open storage here).
    public typealias RouterFactory = @Sendable (_ config: BrokerConfig, _ group: any EventLoopGroup) async throws -> any RequestRouter
    /// Runs after the last connection closed (flush storage, write the clean-shutdown marker).
    public typealias ShutdownHook = @Sendable () async throws -> Void

    /// The configuration the broker runs with.
    public let config: BrokerConfig
    /// Observable state: bound addresses and readiness.
    public let state: BrokerState
    private let group: any EventLoopGroup
    private let logger: Logger
    private let metricsRegistry: PrometheusCollectorRegistry?
    private let routerFactory: RouterFactory
    private let shutdownHook: ShutdownHook

    /// Creates a broker.
    /// - Parameters:
    ///   - metricsRegistry: served on `metrics.listener` when given (bootstrap swift-metrics with it).
    public init(
        config: BrokerConfig,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "runnel.broker"),
        metricsRegistry: PrometheusCollectorRegistry? = nil,
        routerFactory: @escaping RouterFactory = { _, _ in ClosingRouter() },
        shutdownHook: @escaping ShutdownHook = {}
    ) {
        self.config = config
        self.state = BrokerState()
        self.group = group
        self.logger = logger
        self.metricsRegistry = metricsRegistry
        self.routerFactory = routerFactory
        self.shutdownHook = shutdownHook
    }

    public func run() async throws {
        let router: any RequestRouter
        var metricsServer: MetricsServer?
        let server: KafkaServer
        do {
            router = try await routerFactory(config, group)
            if let metricsRegistry, let endpoint = config.metricsListener {
                let metrics = MetricsServer(registry: metricsRegistry, state: state, group: group, logger: logger)
                metricsServer = metrics
                do {
                    try await metrics.start(host: endpoint.host, port: endpoint.port)
                } catch {
                    throw ServerError.bindFailed(listener: "metrics.listener=\(endpoint.host):\(endpoint.port)",
                                                 reason: "\(error)")
                }
            }
            server = KafkaServer(configuration: config.serverConfiguration, router: router, group: group, logger: logger)
            try await server.start()
        } catch {
            state.markFailed()
            await metricsServer?.stop()
            throw error
        }
        state.markReady(addresses: server.boundAddresses)
        logger.info("broker started", metadata: [
            "node_id": "\(config.nodeId)", "listeners": "\(config.listeners.map(\.description).joined(separator: ","))",
        ])

        // Returns on graceful shutdown; throws CancellationError on cancellation: shut down either way.
        try? await gracefulShutdown()

        logger.info("broker shutting down")
        state.markNotReady()
        await server.stopAccepting()
        let timeout = config.serverConfiguration.shutdownTimeout
        if await !server.drain(timeout: timeout) {
            logger.warning("in-flight requests did not finish in time, closing connections", metadata: [
                "timeout_ms": "\(timeout.nanoseconds / 1_000_000)", "connections": "\(server.connectionCount)",
            ])
            await server.closeAllConnections()
        }
        do {
            try await shutdownHook()
        } catch {
            logger.error("shutdown hook failed", metadata: ["error": "\(error)"])
            await metricsServer?.stop()
            throw error
        }
        await metricsServer?.stop()
        logger.info("broker stopped")
    }
}
