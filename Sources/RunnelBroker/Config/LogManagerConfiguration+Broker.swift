// LogManagerConfiguration+Broker: storage's settings built from the broker configuration. Every field
// the broker has a setting for is set here, so storage's own property defaults never decide anything.
import RunnelStorage

extension LogManagerConfiguration {
    /// The storage scheduler also deletes `.deleted` files and runs retention and the cleaner, so it
    /// ticks at least this often whatever `log.flush.scheduler.interval.ms` says.
    static let slowestSchedulerTickMs: Int64 = 1_000

    /// Storage's settings as configured.
    /// - Parameter defaultLogConfig: the topic defaults resolved from the broker's settings, for logs
    ///   opened before their topic's config is known.
    init(_ config: BrokerConfig, defaultLogConfig: LogConfig) {
        self.init(logDirs: config.logDirs)
        // `io.engine` is validated against exactly these names when the configuration loads.
        ioEngine = IOEngineKind(rawValue: config.ioEngine) ?? .auto
        syncfsMinFiles = Int(config.int(.ioSyncfsMinFiles))
        syncWorkers = Int(config.int(.ioSyncWorkers))
        // `log.io.mode` is validated against exactly these names when the configuration loads.
        logIOMode = LogIOMode(rawValue: config.string(.logIOMode)) ?? LogManagerConfiguration.defaultLogIOMode
        logCacheMaxBytes = Int(config.int(.logCacheMaxBytes))
        coldReadMaxBytes = Int(config.int(.logColdReadMaxBytes))
        deletePacing = FileReclaimer.Pacing(chunkBytes: config.int(.logDeleteChunkBytes),
                                            intervalMs: config.int(.logDeleteChunkIntervalMs))
        // Validated against exactly these names when the configuration loads.
        directSync = DirectSync(rawValue: config.string(.logIODirectSync)) ?? .fdatasync
        self.defaultLogConfig = defaultLogConfig
        let remote = config.string(.remoteLogDir)
        remoteLogDir = remote.isEmpty ? nil : remote
        let copyRate = config.int(.remoteLogManagerCopyMaxBytesPerSecond)
        remoteCopyMaxBytesPerSecond = copyRate == Int64.max ? .greatestFiniteMagnitude : Double(copyRate)
        // Validated against exactly these names when the configuration loads.
        compressionAtRest = SegmentCompressionAtRest(rawValue: config.string(.segmentCompressionAtRest)) ?? .none
        retentionCheckIntervalMs = config.int(.logRetentionCheckIntervalMs)
        flushSchedulerIntervalMs = min(config.int(.logFlushSchedulerIntervalMs), Self.slowestSchedulerTickMs)
        // 0 would mean "every tick" in Kafka; storage needs a positive interval.
        checkpointIntervalMs = max(config.int(.logFlushOffsetCheckpointIntervalMs), 1)
        cleanerBackoffMs = config.int(.logCleanerBackoffMs)
        cleanerEnabled = config.bool(.logCleanerEnable) && config.int(.logCleanerThreads) > 0
        cleanerIOMaxBytesPerSecond = config.double(.logCleanerIOMaxBytesPerSecond)
        backgroundThreadEnabled = true
    }
}
