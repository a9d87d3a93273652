// LogManager: all partition logs of a broker across log.dirs — discovery at start (cheap: directory
// names and partition.metadata only), lazy opening with recovery after an unclean stop, create/delete,
// offset checkpoints, a background scheduler (retention, flush.ms, checkpoints, cleaner) on its own
// thread, and a clean shutdown that leaves the `.kafka_cleanshutdown` marker.
import Foundation
import KafkaProtocol
import Logging
import Synchronization

/// Owns every partition log of the broker.
public final class LogManager: Sendable {
    private struct State {
        var open: [TopicPartition: PartitionLog] = [:]
        var known: [TopicPartition: PartitionDescriptor] = [:]
        var offline: [TopicPartition: String] = [:]
        var topicConfigs: [String: LogConfig] = [:]
        var checkpoints: [TopicPartition: PartitionCheckpoints] = [:]
        /// Partitions being opened right now (outside the manager lock), each behind its own gate.
        var opening: [TopicPartition: OpenGate] = [:]
        var isShutDown = false
    }

    /// Serializes the opening of one partition; `opened` is set when the log was already open.
    final class OpenGate: Sendable {
        let lock = Mutex(())
        let opened: PartitionLog?
        init(opened: PartitionLog?) { self.opened = opened }
    }

    /// The settings the manager was started with.
    public let configuration: LogManagerConfiguration
    let directories: [LogDirectory]
    let cache: FileHandleCache
    /// The direct path's tail cache shared by every partition (nil when `logCacheMaxBytes` is 0).
    let tailCache: TailCache?
    private let state = Mutex(State())
    private let logger: Logger
    private let scheduler: LogScheduler?
    /// The remote tier (`remote.log.dir`), nil without one.
    public let remoteStore: (any RemoteSegmentStore)?

    /// Opens `log.dirs`: creates missing directories, notes whether each was shut down cleanly, finds the
    /// partitions in them. No segment is read until a log is first used.
    public init(configuration: LogManagerConfiguration, logger: Logger = Logger(label: "runnel.storage")) throws(StorageError) {
        self.configuration = configuration
        self.logger = logger
        cache = FileHandleCache(capacity: configuration.maxOpenFiles)
        FileReclaimer.shared.configure(configuration.deletePacing)
        ColdReader.shared.maxHeldBytes = configuration.coldReadMaxBytes
        IOThrottle.cleaner.configure(bytesPerSecond: configuration.cleanerIOMaxBytesPerSecond)
        IOThrottle.remoteCopy.configure(bytesPerSecond: configuration.remoteCopyMaxBytesPerSecond)
        let tailCache = configuration.logCacheMaxBytes > 0 ? TailCache(maxBytes: configuration.logCacheMaxBytes) : nil
        self.tailCache = tailCache
        var directories: [LogDirectory] = []
        var initial = State()
        for path in configuration.logDirs {
            do throws(StorageError) {
                let directory = try LogDirectory(path: path, engineKind: configuration.ioEngine,
                                                 syncfsMinFiles: configuration.syncfsMinFiles, syncWorkers: configuration.syncWorkers,
                                                 ioMode: configuration.logIOMode, logger: logger,
                                                 faults: configuration.faultInjector, tailCache: tailCache,
                                                 directSync: configuration.directSync)
                directories.append(directory)
                Self.discover(directory, into: &initial, logger: logger)
            } catch {
                if configuration.ioEngine == .ioUring, case .io(operation: "io_uring_queue_init", _, _) = error { throw error }
                logger.error("log directory unusable; it stays offline", metadata: ["logDir": "\(path)", "error": "\(error)"])
            }
        }
        guard !directories.isEmpty else { throw .logDirOffline(path: configuration.logDirs.joined(separator: ",")) }
        self.directories = directories
        remoteStore = try configuration.remoteLogDir.map { root throws(StorageError) in
            try LocalDirectoryRemoteStore(root: root, compression: configuration.compressionAtRest)
        }
        state.withLock { $0 = initial }
        scheduler = configuration.backgroundThreadEnabled ? LogScheduler(configuration: configuration) : nil
        scheduler?.start(manager: self)
    }

    private static func discover(_ directory: LogDirectory, into state: inout State, logger: Logger) {
        let recovery = OffsetCheckpointFile.read(directory.path + "/" + OffsetCheckpointFile.recoveryPoint)
        let starts = OffsetCheckpointFile.read(directory.path + "/" + OffsetCheckpointFile.logStartOffset)
        let watermarks = OffsetCheckpointFile.read(directory.path + "/" + OffsetCheckpointFile.highWatermark)
        let cleaner = OffsetCheckpointFile.read(directory.path + "/" + OffsetCheckpointFile.cleanerOffset)
        for name in (try? FileSystem.list(directory.path)) ?? [] {
            let path = directory.path + "/" + name
            guard FileSystem.isDirectory(path) else { continue }
            if name.hasSuffix("-delete") {
                FileSystem.removeTree(path)
                continue
            }
            guard let key = TopicPartition(directoryName: name) else { continue }
            if let existing = state.known[key] {
                logger.error("partition found in two log dirs; using the first",
                             metadata: ["partition": "\(key)", "first": "\(existing.logDir)", "second": "\(directory.path)"])
                continue
            }
            state.known[key] = PartitionDescriptor(topic: key.topic, partition: key.partition,
                                                   topicId: PartitionMetadataFile.read(directory: path), logDir: directory.path)
            state.checkpoints[key] = PartitionCheckpoints(recoveryPoint: recovery[key], logStartOffset: starts[key],
                                                          highWatermark: watermarks[key], firstDirtyOffset: cleaner[key])
        }
    }

    /// The I/O engine each log dir actually runs (after `auto` resolved).
    public var engineKinds: [String: IOEngineKind] {
        Dictionary(uniqueKeysWithValues: directories.map { ($0.path, $0.engine.kind) })
    }

    /// Log dirs taken offline by I/O errors.
    public var offlineLogDirs: [String] { directories.filter(\.isOffline).map(\.path) }

    /// Every partition present on disk or created since start.
    public var partitions: [PartitionDescriptor] {
        state.withLock { Array($0.known.values) }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// Sets the configuration used for `topic` (applied to its open logs, and to logs opened later).
    public func setTopicConfig(_ config: LogConfig, for topic: String) throws(StorageError) {
        try config.validate()
        let logs = state.withLock { state -> [PartitionLog] in
            state.topicConfigs[topic] = config
            return state.open.filter { $0.key.topic == topic }.map(\.value)
        }
        for log in logs { try log.updateConfig(config) }
    }

    /// Creates an empty log (with `partition.metadata`) in the log dir holding the fewest partitions.
    public func createLog(topic: String, partition: Int32, topicId: UUID?, config: LogConfig? = nil) throws(StorageError) -> PartitionLog {
        let key = TopicPartition(topic: topic, partition: partition)
        guard !topic.isEmpty, !topic.contains("/"), topic != ".", topic != "..", partition >= 0 else {
            throw .invalidConfig("invalid topic partition \(key)")
        }
        return try state.withLock { state throws(StorageError) -> PartitionLog in
            guard !state.isShutDown else { throw .partitionOffline("log manager is shut down") }
            guard state.known[key] == nil else { throw .logAlreadyExists(topic: topic, partition: partition) }
            let counts = Dictionary(grouping: state.known.values, by: \.logDir).mapValues(\.count)
            guard let directory = directories.filter({ !$0.isOffline }).min(by: { counts[$0.path, default: 0] < counts[$1.path, default: 0] }) else {
                throw .logDirOffline(path: configuration.logDirs.joined(separator: ","))
            }
            let config = config ?? state.topicConfigs[topic] ?? configuration.defaultLogConfig
            try config.validate()
            if state.topicConfigs[topic] == nil { state.topicConfigs[topic] = config }
            let path = directory.path + "/" + key.description
            try FileSystem.makeDirectory(path)
            if let topicId { try PartitionMetadataFile.write(directory: path, topicId: topicId) }
            FileSystem.syncDirectory(directory.path)
            let descriptor = PartitionDescriptor(topic: topic, partition: partition, topicId: topicId, logDir: directory.path)
            let log = try openLog(descriptor, directory: directory, config: config, clean: true, checkpoints: PartitionCheckpoints())
            state.known[key] = descriptor
            state.open[key] = log
            return log
        }
    }

    /// The log of a partition, opened (and recovered if needed) on first use; nil when it does not exist.
    /// Throws when the partition or its log dir is offline. Opening happens outside the manager lock, behind
    /// a per-partition gate: a slow recovery of one partition never delays opening (or using) another, and
    /// concurrent callers for the same partition wait for the one opening it and get the same log.
    public func log(topic: String, partition: Int32) throws(StorageError) -> PartitionLog? {
        let key = TopicPartition(topic: topic, partition: partition)
        let gate = try state.withLock { state throws(StorageError) -> OpenGate? in
            if let log = state.open[key] { return OpenGate(opened: log) }
            guard state.known[key] != nil else { return nil }
            if let reason = state.offline[key] { throw .partitionOffline(reason) }
            guard !state.isShutDown else { throw .partitionOffline("log manager is shut down") }
            if let gate = state.opening[key] { return gate }
            let gate = OpenGate(opened: nil)
            state.opening[key] = gate
            return gate
        }
        guard let gate else { return nil }
        if let log = gate.opened { return log }
        return try gate.lock.withLock { _ throws(StorageError) -> PartitionLog? in
            // Whoever held the gate before may have opened it (or found it offline, or seen it deleted).
            let (ready, descriptor, config, checkpoints) = try state.withLock { state throws(StorageError) in
                if let log = state.open[key] { return (Optional(log), PartitionDescriptor?.none, LogConfig(), PartitionCheckpoints()) }
                if let reason = state.offline[key] { throw .partitionOffline(reason) }
                return (nil, state.known[key], state.topicConfigs[topic] ?? configuration.defaultLogConfig,
                        state.checkpoints[key] ?? PartitionCheckpoints())
            }
            if let ready { return ready }
            guard let descriptor else { return nil }
            guard let directory = directories.first(where: { $0.path == descriptor.logDir }) else {
                throw .logDirOffline(path: descriptor.logDir)
            }
            if directory.isOffline { throw .logDirOffline(path: directory.path) }
            configuration.openHook?(key)
            let opened: Result<PartitionLog, StorageError>
            do throws(StorageError) {
                opened = .success(try openLog(descriptor, directory: directory, config: config, clean: directory.startedClean,
                                              checkpoints: checkpoints))
            } catch {
                opened = .failure(error)
            }
            return try state.withLock { state throws(StorageError) -> PartitionLog? in
                if state.opening[key] === gate { state.opening.removeValue(forKey: key) }
                // Deleted (or deleted and created again) while opening: what we opened is stale.
                guard state.known[key] == descriptor, state.open[key] == nil else {
                    if case .success = opened { cache.evict(directory: descriptor.logDir + "/" + key.description) }
                    return state.open[key]
                }
                switch opened {
                case let .success(log):
                    // A config set while the log was opening applies to it too.
                    if let latest = state.topicConfigs[topic], latest != config { try? log.updateConfig(latest) }
                    state.open[key] = log
                    return log
                case let .failure(error):
                    let reason = "could not open \(key) in \(directory.path): \(error)"
                    logger.error("partition offline: corrupt or unreadable log", metadata: ["partition": "\(key)", "error": "\(error)"])
                    state.offline[key] = reason
                    throw .partitionOffline(reason)
                }
            }
        }
    }

    private func openLog(_ descriptor: PartitionDescriptor, directory: LogDirectory, config: LogConfig, clean: Bool,
                         checkpoints: PartitionCheckpoints) throws(StorageError) -> PartitionLog {
        let path = directory.path + "/" + TopicPartition(topic: descriptor.topic, partition: descriptor.partition).description
        let local = LocalLog(directory: path, config: config, cache: cache, logger: logger, clock: configuration.clock)
        let logState = PartitionLogState(local: local, highWatermarkPolicy: configuration.highWatermarkPolicy)
        logState.tier.configure(store: remoteStore, topic: descriptor.topic, partition: descriptor.partition,
                                crashPoint: configuration.tieringCrashPoint)
        try LogLoader.open(logState, clean: clean, recoveryPoint: checkpoints.recoveryPoint, logStartOffset: checkpoints.logStartOffset,
                           highWatermark: checkpoints.highWatermark, nowMs: configuration.clock())
        logState.firstDirtyOffset = checkpoints.firstDirtyOffset
        return PartitionLog(topic: descriptor.topic, partition: descriptor.partition, topicId: descriptor.topicId,
                            directory: path, logDir: directory, state: logState, clock: configuration.clock, logger: logger)
    }

    /// Removes a partition: its directory is renamed `…-delete` and removed; open slices stay readable.
    public func deleteLog(topic: String, partition: Int32) throws(StorageError) {
        let key = TopicPartition(topic: topic, partition: partition)
        let (descriptor, log) = state.withLock { state in
            let descriptor = state.known.removeValue(forKey: key)
            state.offline.removeValue(forKey: key)
            state.checkpoints.removeValue(forKey: key)
            return (descriptor, state.open.removeValue(forKey: key))
        }
        guard let descriptor else { throw .unknownTopicOrPartition(topic: topic, partition: partition) }
        log?.setAppendListener(nil)
        log?.setWrittenListener(nil)
        log?.releaseDirectTail()
        let path = descriptor.logDir + "/" + key.description
        let doomed = path + "." + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() + "-delete"
        cache.evict(directory: path)
        try FileSystem.rename(path, to: doomed)
        FileSystem.syncDirectory(descriptor.logDir)
        FileSystem.removeTree(doomed)
        remoteStore?.deletePartition(topic: topic, partition: partition)
    }

    /// Every log opened so far.
    var openLogs: [PartitionLog] { state.withLock { Array($0.open.values) } }

    /// Opens every known partition (retention and compaction need them all).
    func allLogs() -> [PartitionLog] {
        let keys = state.withLock { Array($0.known.keys) }
        return keys.compactMap { try? log(topic: $0.topic, partition: $0.partition) }
    }

    /// Writes the recovery point, log start offset and high watermark checkpoints of every log dir.
    public func writeCheckpoints() {
        let (descriptors, open, saved) = state.withLock { ($0.known, $0.open, $0.checkpoints) }
        for directory in directories where !directory.isOffline {
            var files: [String: [TopicPartition: Int64]] = [:]
            for (key, descriptor) in descriptors where descriptor.logDir == directory.path {
                guard let values = open[key]?.checkpointOffsets ?? saved[key] else { continue }
                files[OffsetCheckpointFile.recoveryPoint, default: [:]][key] = values.recoveryPoint
                files[OffsetCheckpointFile.logStartOffset, default: [:]][key] = values.logStartOffset
                files[OffsetCheckpointFile.highWatermark, default: [:]][key] = values.highWatermark
                files[OffsetCheckpointFile.cleanerOffset, default: [:]][key] = values.firstDirtyOffset
            }
            do throws(StorageError) {
                for name in [OffsetCheckpointFile.recoveryPoint, OffsetCheckpointFile.logStartOffset,
                             OffsetCheckpointFile.highWatermark, OffsetCheckpointFile.cleanerOffset] {
                    try OffsetCheckpointFile.write(directory.path + "/" + name, directory: directory.path, offsets: files[name] ?? [:])
                }
            } catch {
                logger.error("writing offset checkpoints failed", metadata: ["logDir": "\(directory.path)", "error": "\(error)"])
            }
        }
    }

    /// Flushes every open log, writes snapshots and checkpoints, stops the engines, and leaves the
    /// clean-shutdown marker in each log dir whose logs all closed cleanly.
    public func shutdown() {
        let alreadyDown = state.withLock { state -> Bool in
            defer { state.isShutDown = true }
            return state.isShutDown
        }
        guard !alreadyDown else { return }
        scheduler?.stop()
        // Opens already under way finish (and register their log) before the logs are closed.
        for gate in state.withLock({ Array($0.opening.values) }) { gate.lock.withLock { _ in } }
        var failedDirs: Set<String> = []
        for log in openLogs {
            do throws(StorageError) {
                try log.closeCleanly()
            } catch {
                failedDirs.insert(log.logDir.path)
                logger.error("closing a log failed; its log dir will be recovered at next start",
                             metadata: ["partition": "\(log.topic)-\(log.partition)", "error": "\(error)"])
            }
        }
        writeCheckpoints()
        for directory in directories {
            directory.engine.shutdown()
            if !failedDirs.contains(directory.path) { directory.writeCleanShutdownMarker() }
        }
    }

    // MARK: Background tasks

    /// One pass of every periodic task (tests call this with the scheduler thread disabled).
    public func runBackgroundTasks(retention: Bool = true, cleaner: Bool = true) {
        for log in openLogs { log.flushIfDue() }
        if retention {
            for log in allLogs() {
                do throws(StorageError) {
                    try log.applyRetention()
                    try log.tierSegments()
                } catch {
                    logger.error("retention failed", metadata: ["partition": "\(log.topic)-\(log.partition)", "error": "\(error)"])
                }
                log.expireProducers()
            }
        }
        if cleaner { runCleaner() }
    }

    /// Compacts the logs whose cleanup.policy includes compact and whose dirty ratio is high enough.
    public func runCleaner() {
        for log in allLogs() where log.config.cleanupPolicy.contains(.compact) {
            do throws(StorageError) {
                _ = try log.compactIfDirty()
            } catch {
                logger.error("compaction failed", metadata: ["partition": "\(log.topic)-\(log.partition)", "error": "\(error)"])
            }
        }
    }

    /// Stops the engines without flushing or writing the clean-shutdown marker: what a crash leaves
    /// behind, for tests of recovery.
    func abandonForTesting() {
        state.withLock { $0.isShutDown = true }
        scheduler?.stop()
        for directory in directories { directory.engine.shutdown() }
    }

    func removeDueFiles() {
        for log in openLogs { log.removeDueFiles() }
    }
}
