// LogManagerConfiguration: the broker-level settings of a LogManager (Kafka's names where they exist),
// and the one setup that tools, benchmarks, the crash helper and tests share (`standalone`).
import Foundation
import KafkaProtocol

/// Settings of a LogManager (broker-level, Kafka names where they exist).
public struct LogManagerConfiguration: Sendable {
    /// log.dirs.
    public var logDirs: [String]
    /// io.engine: auto, io_uring or posix.
    public var ioEngine: IOEngineKind = .auto
    /// io.syncfs.min.files: a group commit that must fsync at least this many files of one log dir
    /// issues one syncfs of its file system instead (0: always one fdatasync per file).
    public var syncfsMinFiles = 16
    /// io.sync.workers: sync passes of a direct-path log dir in flight at once (decision 0024); 1: one after
    /// another. Buffered log dirs always use 1.
    public var syncWorkers = 1
    /// log.io.mode: how segment data is written — `auto` (O_DIRECT where the file system accepts it),
    /// `direct` or `buffered` (the page cache).
    public var logIOMode: LogIOMode = Self.defaultLogIOMode
    /// The default `log.io.mode`: auto — direct on disk file systems that accept O_DIRECT (ext4, XFS),
    /// buffered on tmpfs; the tail cache serves fetches of freshly written data from memory
    /// (docs/decisions/0011, docs/benchmarks.md "Tail cache").
    public static let defaultLogIOMode: LogIOMode = .auto
    /// log.cache.max.bytes: bytes of direct tails' buffers the tail cache keeps for reads (shared by all
    /// partitions, least-recently-used evicted first; 0 disables it). See docs/storage.md, "Tail cache".
    public var logCacheMaxBytes = 128 << 20
    /// log.cold.read.max.bytes: bytes consumers' O_DIRECT reads of data not in memory may hold at once
    /// (one budget for the process, set by the last manager opened; `ColdReader`). 0: such fetches read
    /// through the page cache.
    public var coldReadMaxBytes = ColdReader.defaultMaxHeldBytes
    /// log.delete.chunk.bytes / log.delete.chunk.interval.ms: how deleted files give their blocks back
    /// (`FileReclaimer`; one pace for the whole process, set by the last manager opened).
    public var deletePacing = FileReclaimer.Pacing()
    /// log.io.direct.sync: how the direct path makes an append durable (docs/decisions/0010).
    public var directSync: DirectSync = .fdatasync
    /// Defaults for topics without overrides.
    public var defaultLogConfig = LogConfig()
    /// Open segment/index files kept by the LRU across all partitions.
    public var maxOpenFiles = 4096
    /// log.retention.check.interval.ms.
    public var retentionCheckIntervalMs: Int64 = 300_000
    /// log.flush.scheduler.interval.ms (flush.ms checks and `.deleted` removal).
    public var flushSchedulerIntervalMs: Int64 = 1000
    /// log.flush.offset.checkpoint.interval.ms.
    public var checkpointIntervalMs: Int64 = 60_000
    /// log.cleaner.backoff.ms: how often the cleaner looks for compactable logs.
    public var cleanerBackoffMs: Int64 = 15_000
    /// log.cleaner.io.max.bytes.per.second: the cleaner's reads plus writes per second (Runnel: 200 MB/s by
    /// default, Kafka: unlimited; see IOThrottle).
    public var cleanerIOMaxBytesPerSecond: Double = IOThrottle.defaultCleanerBytesPerSecond
    /// remote.log.manager.copy.max.bytes.per.second (KIP-956): segment bytes copied to the remote tier per
    /// second (unlimited by default, as Kafka: a tier that falls behind the producers fills the log dir).
    public var remoteCopyMaxBytesPerSecond: Double = .greatestFiniteMagnitude
    /// log.cleaner.enable (and log.cleaner.threads > 0): whether compaction runs at all.
    public var cleanerEnabled = true
    /// Runs the scheduler thread; tests turn it off and call `runBackgroundTasks()`.
    public var backgroundThreadEnabled = true
    /// Who moves each log's high watermark: the log on write completion (single node, the default) or
    /// the replication layer (`PartitionLog.highWatermarkPolicy` changes it per log).
    public var highWatermarkPolicy: HighWatermarkPolicy = .durableLogEnd
    /// Wall clock in milliseconds (injectable for tests).
    public var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    /// remote.log.dir: the remote tier's directory (a second, cheaper disk); nil: no remote tier.
    public var remoteLogDir: String?
    /// runnel.segment.compression.at.rest: how segments are stored in the remote tier.
    public var compressionAtRest: SegmentCompressionAtRest = .none
    /// Test hook: every tiering stops after this step, as a crash would.
    var tieringCrashPoint: TieringStep?
    /// Test hook: fails chosen writes of every log dir's engine.
    var faultInjector: IOFaultInjector?
    /// Test hook: runs (outside the manager lock) just before a partition's log is opened.
    var openHook: (@Sendable (TopicPartition) -> Void)?

    /// Defaults for everything but `logDirs`.
    public init(logDirs: [String]) { self.logDirs = logDirs }
}

extension LogManagerConfiguration {
    /// A configuration for tools, benchmarks and tests: `logDirs`, the I/O engine, topic defaults, and no
    /// scheduler thread (the caller drives `runBackgroundTasks()`), so runs are repeatable.
    public static func standalone(logDirs: [String], ioEngine: IOEngineKind = .auto,
                                  defaults: LogConfig = LogConfig(), ioMode: LogIOMode = defaultLogIOMode) -> LogManagerConfiguration {
        var configuration = LogManagerConfiguration(logDirs: logDirs)
        configuration.ioEngine = ioEngine
        configuration.logIOMode = ioMode
        configuration.backgroundThreadEnabled = false
        configuration.defaultLogConfig = defaults
        return configuration
    }
}
