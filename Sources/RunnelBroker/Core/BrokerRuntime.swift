// Opens what a broker node runs on — metadata store, storage, partitions — and builds the router.
import Foundation
import Logging
import RunnelCluster
import RunnelGroups
import RunnelStorage

/// A broker's storage and handlers, opened before the listeners start and closed after they stop.
public final class BrokerRuntime: Sendable {
    /// The router to hand to `Broker`.
    public let router: any RequestRouter
    let core: BrokerCore
    let logManager: LogManager
    private let logger: Logger
    private let offsetsTopicPartitions: Int32
    private let offsetsTopicSegmentBytes: Int64

    /// Opens the metadata store and the log dirs (recovering after an unclean stop) and the partitions
    /// of every known topic.
    public init(config: BrokerConfig, logger: Logger) throws {
        self.logger = logger
        let logDirs = config.logDirs
        guard let firstDir = logDirs.first else {
            throw ConfigError.invalidValue(name: "log.dirs", value: "", reason: "needs at least one directory",
                                           origin: .builtIn)
        }
        let metadata = try LocalMetadataStore(directory: firstDir, nodeId: config.nodeId, logger: logger)
        var storageConfig = LogManagerConfiguration(logDirs: logDirs)
        storageConfig.ioEngine = IOEngineKind(rawValue: config.ioEngine) ?? .auto
        storageConfig.syncfsMinFiles = Int(config.int("io.syncfs.min.files", fallback: 16))
        storageConfig.retentionCheckIntervalMs = config.int("log.retention.check.interval.ms", fallback: 300_000)
        storageConfig.cleanerBackoffMs = config.int("log.cleaner.backoff.ms", fallback: 15_000)
        storageConfig.cleanerEnabled = (config["log.cleaner.enable"]?.boolValue ?? true)
            && config.int("log.cleaner.threads", fallback: 1) > 0
        storageConfig.checkpointIntervalMs = max(config.int("log.flush.offset.checkpoint.interval.ms", fallback: 60_000), 1)
        storageConfig.flushSchedulerIntervalMs = min(config.int("log.flush.scheduler.interval.ms", fallback: 1_000), 1_000)
        let resolver = TopicConfigResolver(broker: config)
        storageConfig.defaultLogConfig = resolver.settings(from: config.topicConfig()).log
        let logManager = try LogManager(configuration: storageConfig, logger: logger)
        self.logManager = logManager
        let advertised = config.advertisedListeners.first ?? config.listeners.first
        var host = advertised?.host ?? "127.0.0.1"
        if host.isEmpty || host == "0.0.0.0" { host = ProcessInfo.processInfo.hostName }
        let settings = BrokerSettings(
            nodeId: config.nodeId, advertisedHost: host, advertisedPort: Int32(advertised?.port ?? 9092),
            autoCreateTopics: config["auto.create.topics.enable"]?.boolValue ?? true,
            defaultPartitions: Int32(clamping: config.int("num.partitions", fallback: 1)),
            defaultReplicationFactor: Int16(clamping: config.int("default.replication.factor", fallback: 1)),
            fetchMaxBytesCap: Int32(clamping: config.int("fetch.max.bytes", fallback: 57_671_680)),
            fetchSessionCacheSlots: Int(config.int("max.incremental.fetch.session.cache.slots", fallback: 1000)),
            deleteTopicEnable: config["delete.topic.enable"]?.boolValue ?? true)
        let replicas = ReplicaManager(logManager: logManager, nodeId: config.nodeId, logger: logger)
        let core = BrokerCore(metadataStore: metadata, replicas: replicas, settings: settings,
                              topicConfigs: resolver, groupConfig: GroupCoordinatorConfig(config), logger: logger)
        core.loadTopics()
        self.core = core
        self.offsetsTopicPartitions = Int32(clamping: config.int("offsets.topic.num.partitions", fallback: 50))
        self.offsetsTopicSegmentBytes = config.int("offsets.topic.segment.bytes", fallback: 104_857_600)
        self.router = KafkaRouter(broker: core)
        logger.info("storage opened", metadata: [
            "log_dirs": "\(logDirs.joined(separator: ","))", "topics": "\(metadata.topics().count)",
            "cluster_id": "\(metadata.clusterId)", "io_engine": "\(logManager.engineKinds.map { "\($0.key)=\($0.value.rawValue)" }.sorted().joined(separator: ","))",
        ])
    }

    /// Loads consumer groups from `__consumer_offsets` (creating it on first start) and starts the
    /// coordinator; call before accepting connections.
    public func startCoordinators() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let summary = try await core.startGroupCoordinator(partitions: offsetsTopicPartitions,
                                                           segmentBytes: offsetsTopicSegmentBytes)
        let elapsed = clock.now - started
        let loadMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("group coordinator loaded", metadata: [
            "partitions": "\(offsetsTopicPartitions)", "groups": "\(summary.groups)", "offsets": "\(summary.offsets)",
            "records": "\(summary.records)", "undecodable_records": "\(summary.undecodableRecords)",
            "load_ms": "\((loadMs * 10).rounded() / 10)"])
    }

    /// Stops the coordinators, flushes every log and writes the clean-shutdown markers.
    public func shutdown() async {
        await core.groupCoordinator.shutdown()
        logManager.shutdown()
        logger.info("storage closed cleanly")
    }
}
