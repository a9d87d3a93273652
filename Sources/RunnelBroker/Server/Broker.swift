// Broker: one broker node assembled from its configuration — metadata store, storage, the group
// coordinator, the request handlers, the listeners and the metrics endpoint — and its graceful shutdown.
import Logging
import NIOCore
import NIOPosix
import Prometheus
import RunnelCluster
import RunnelGroups
import RunnelStorage
import RunnelTransactions
import ServiceLifecycle

/// A broker node as a swift-service-lifecycle `Service`.
///
/// `init` opens the metadata store and the log dirs (recovering after an unclean stop) and the
/// partitions of every known topic; nothing listens yet. `run()` loads the consumer groups from
/// `__consumer_offsets` (creating it on first start), starts the metrics endpoint and the listeners,
/// and returns after a graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`, or task cancellation).
///
/// Shutdown order: readiness goes false; listening sockets close (no new connections); each
/// connection stops reading and finishes its in-flight requests, bounded by `shutdown.timeout.ms`,
/// after which the rest are closed; then the group coordinator stops, storage flushes every log and
/// writes its clean-shutdown markers; then the metrics endpoint stops.
public final class Broker: Service, Sendable {
    /// The configuration the broker runs with.
    public let config: BrokerConfig
    /// Observable state: bound addresses and readiness.
    public let state = BrokerState()
    /// The services handlers use (metadata, partitions, coordinator).
    let core: BrokerCore
    /// The partition logs of every log dir.
    let logManager: LogManager
    /// Turns request frames into responses: the Kafka handlers (a test of the network layer may replace it).
    let router: any RequestRouter
    private let group: any EventLoopGroup
    let logger: Logger
    private let metricsRegistry: PrometheusCollectorRegistry?

    /// Opens the metadata store `metadata.store` names (etcd: connects, registers this broker and
    /// campaigns for controller), then storage, as `config` says.
    /// - Throws: `MetadataStoreError` when etcd cannot be reached or this node id stays registered by
    ///   another live broker; otherwise as `init`.
    public static func open(
        config: BrokerConfig,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "runnel.broker"),
        metricsRegistry: PrometheusCollectorRegistry? = nil
    ) async throws -> Broker {
        guard config.string(.metadataStore) == "etcd" else {
            return try Broker(config: config, group: group, logger: logger, metricsRegistry: metricsRegistry)
        }
        let store = try await EtcdMetadataStore.open(configuration: ClusterRegistration.etcdConfiguration(config),
                                                     group: group, logger: logger)
        do {
            return try Broker(config: config, group: group, logger: logger, metricsRegistry: metricsRegistry, router: nil,
                              metadataStore: store)
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// Opens the broker's metadata and storage as `config` says (`metadata.store=local` only: the etcd
    /// store is opened by `open`).
    /// - Parameters:
    ///   - group: the event loops serving connections.
    ///   - metricsRegistry: served on `metrics.listener` when given (bootstrap swift-metrics with it).
    /// - Throws: `ConfigError` without a log dir, `MetadataStoreError` or `StorageError` when the
    ///   metadata file or the log dirs cannot be opened.
    public convenience init(
        config: BrokerConfig,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "runnel.broker"),
        metricsRegistry: PrometheusCollectorRegistry? = nil
    ) throws {
        try self.init(config: config, group: group, logger: logger, metricsRegistry: metricsRegistry, router: nil)
    }

    /// As the public initializer; a non-nil `router` answers requests instead of the Kafka handlers.
    init(config: BrokerConfig, group: any EventLoopGroup, logger: Logger,
         metricsRegistry: PrometheusCollectorRegistry?, router: (any RequestRouter)?,
         metadataStore: (any MetadataStore)? = nil) throws {
        self.config = config
        self.group = group
        self.logger = logger
        self.metricsRegistry = metricsRegistry
        let logDirs = config.logDirs
        guard let firstDir = logDirs.first else {
            throw ConfigError.invalidValue(name: "log.dirs", value: "", reason: "needs at least one directory",
                                           origin: .builtIn)
        }
        let metadata: any MetadataStore
        if let metadataStore {
            metadata = metadataStore
        } else {
            guard config.string(.metadataStore) == "local" else {
                throw ConfigError.invalidValue(name: "metadata.store", value: config.string(.metadataStore),
                                               reason: "the etcd store is opened by Broker.open (async)", origin: .builtIn)
            }
            metadata = try LocalMetadataStore(directory: firstDir, nodeId: config.nodeId,
                                              registration: ClusterRegistration.registration(config), logger: logger)
        }
        let topicConfigs = TopicConfigResolver(broker: config)
        let clusterMode = config.string(.metadataStore) == "etcd"
        var storageConfiguration = LogManagerConfiguration(config, defaultLogConfig: topicConfigs.settings(from: config.topicConfig()).log)
        // Cluster mode: the high watermark follows the ISR, moved by each partition's leader.
        if clusterMode { storageConfiguration.highWatermarkPolicy = .external }
        let logManager = try LogManager(configuration: storageConfiguration, logger: logger)
        self.logManager = logManager
        let core = BrokerCore(
            metadataStore: metadata,
            replicas: ReplicaManager(logManager: logManager, nodeId: config.nodeId, clusterMode: clusterMode,
                                     leaderThrottle: ReplicationThrottle(rate: config.int(.leaderReplicationThrottledRate)),
                                     logger: logger),
            settings: BrokerSettings(config), topicConfigs: topicConfigs, groupConfig: GroupCoordinatorConfig(config),
            transactionConfig: TransactionCoordinatorConfig(config), logger: logger)
        core.loadTopics()
        self.core = core
        self.router = router ?? KafkaRouter(broker: core)
        let engines = logManager.engineKinds.map { "\($0.key)=\($0.value.rawValue)" }.sorted().joined(separator: ",")
        logger.info("storage opened", metadata: [
            "log_dirs": "\(logDirs.joined(separator: ","))", "topics": "\(metadata.topics().count)",
            "cluster_id": "\(metadata.clusterId)", "io_engine": "\(engines)", "metadata_store": "\(config.string(.metadataStore))",
        ])
    }

    /// Loads the consumer groups, starts the metrics endpoint and the listeners, and returns after a
    /// graceful shutdown (see the type's documentation for the order).
    /// - Throws: `ServerError.bindFailed` when a listener or the metrics endpoint cannot be bound, or the
    ///   error that stopped the group coordinator from loading; storage is closed before it is thrown.
    public func run() async throws {
        var metricsServer: MetricsServer?
        var chartSampler: Task<Void, Never>?
        defer { chartSampler?.cancel() }
        let server: KafkaServer
        // Before any replica fetch: the dynamic throttle rates apply from the first one.
        let dynamicConfigLoop = startDynamicBrokerConfigs()
        defer { dynamicConfigLoop.cancel() }
        let applier = config.string(.metadataStore) == "etcd"
            ? Task { await MetadataChangeApplier(core: core, logger: logger).run() } : nil
        defer { applier?.cancel() }
        core.replication?.start()
        let controller = config.string(.metadataStore) == "etcd" ? ClusterController(core: core, config: config, logger: logger) : nil
        let controllerLoop = controller.map { controller in Task { await controller.run() } }
        defer { controllerLoop?.cancel() }
        let authorizerLoop = startAuthorizer()
        let quotaLoop = startClientQuotas()
        var tlsReloading: Task<Void, Never>?
        defer {
            authorizerLoop?.cancel()
            quotaLoop.cancel()
            tlsReloading?.cancel()
        }
        do {
            try await startCoordinators()
            if let metricsRegistry, let endpoint = config.metricsListener {
                let collector = BrokerStateCollector(core: core, logManager: logManager)
                let console = Console(core: core, readOnly: config.bool(.consoleReadOnly), authentication: consoleAuthentication())
                chartSampler = Task {
                    while !Task.isCancelled {
                        await console.sampleThroughput()
                        try? await Task.sleep(for: .seconds(Console.chartIntervalSeconds))
                    }
                }
                let metrics = await MetricsServer(
                    registry: metricsRegistry, state: state, logger: logger,
                    maxRequestsPerSecond: Int(config.int(.metricsListenerMaxRequestsPerSecond)),
                    collector: { await collector.read() }, pages: { request in await console.prepared(request) })
                metricsServer = metrics
                do {
                    try await metrics.start(host: endpoint.host, port: endpoint.port)
                } catch {
                    throw ServerError.bindFailed(listener: "metrics.listener=\(endpoint.host):\(endpoint.port)",
                                                 reason: "\(error)")
                }
            }
            let serverConfiguration = withClientQuotas(try securedServerConfiguration())
            tlsReloading = startTLSReloading(serverConfiguration)
            server = KafkaServer(configuration: serverConfiguration, router: router, group: group, logger: logger)
            try await server.start()
        } catch {
            state.markFailed()
            await metricsServer?.stop()
            await closeStorage()
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
        await controller?.shutDownControlled()  // still serving: leadership moves before this broker unregisters
        await server.stopAccepting()
        let timeout = config.serverConfiguration.shutdownTimeout
        if await !server.drain(timeout: timeout) {
            logger.warning("in-flight requests did not finish in time, closing connections", metadata: [
                "timeout_ms": "\(timeout.nanoseconds / 1_000_000)", "connections": "\(server.connectionCount)",
            ])
            await server.closeAllConnections()
        }
        await closeStorage()
        await metricsServer?.stop()
        logger.info("broker stopped")
    }

    /// Loads consumer groups from `__consumer_offsets` (creating it on first start) and starts the
    /// coordinator; runs before any listener opens.
    private func startCoordinators() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let partitions = config.int32(.offsetsTopicNumPartitions)
        let summary = try await core.startGroupCoordinator(partitions: partitions,
                                                           segmentBytes: config.int(.offsetsTopicSegmentBytes))
        let elapsed = clock.now - started
        let loadMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("group coordinator loaded", metadata: [
            "partitions": "\(partitions)", "groups": "\(summary.groups)", "offsets": "\(summary.offsets)",
            "records": "\(summary.records)", "undecodable_records": "\(summary.undecodableRecords)",
            "load_ms": "\((loadMs * 10).rounded() / 10)"])
        let transactionPartitions = config.int32(.transactionStateLogNumPartitions)
        let transactionalIds = try await core.startTransactionCoordinator(
            partitions: transactionPartitions, segmentBytes: config.int(.transactionStateLogSegmentBytes))
        logger.info("transaction coordinator loaded", metadata: [
            "partitions": "\(transactionPartitions)", "transactional_ids": "\(transactionalIds)"])
    }

    /// Stops the coordinator, flushes every log and writes the clean-shutdown markers.
    private func closeStorage() async {
        await core.replication?.shutdown()
        await core.coordinatorLoader?.shutdown()
        await core.brokerLinks?.shutdown()
        await core.transactionCoordinator.shutdown()
        await core.groupCoordinator.shutdown()
        // Unregisters (revoking the lease resigns the controller key at once) before storage closes.
        await core.metadataStore.shutdown()
        // Closing fdatasyncs every log: seconds on a busy disk.
        let manager = logManager
        await runBlockingIO { manager.shutdown() }
        logger.info("storage closed cleanly")
    }
}
