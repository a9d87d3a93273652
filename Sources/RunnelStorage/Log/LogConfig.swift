// LogConfig: the topic-level settings of a partition log, under Kafka's names, with Kafka's defaults
// (except flush.messages, whose Runnel default makes every acknowledgement durable).
import Foundation
import KafkaRecords

/// Kafka's `cleanup.policy` values.
public struct CleanupPolicy: OptionSet, Sendable, Hashable {
    /// The option bits.
    public let rawValue: Int
    /// A policy from its option bits.
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Segments are removed by retention.ms / retention.bytes.
    public static let delete = CleanupPolicy(rawValue: 1)
    /// The cleaner keeps the latest record per key.
    public static let compact = CleanupPolicy(rawValue: 2)

    /// Parses "delete", "compact", "compact,delete" (Kafka's list syntax); nil for anything else.
    public init?(kafkaValue: String) {
        var policy: CleanupPolicy = []
        for part in kafkaValue.split(separator: ",") {
            switch part.trimmingCharacters(in: .whitespaces).lowercased() {
            case "delete": policy.insert(.delete)
            case "compact": policy.insert(.compact)
            default: return nil
            }
        }
        self = policy
    }

    /// The Kafka spelling ("delete", "compact" or "compact,delete").
    public var kafkaValue: String {
        switch (contains(.compact), contains(.delete)) {
        case (true, true): "compact,delete"
        case (true, false): "compact"
        default: "delete"
        }
    }
}

/// Settings of one partition log. Every property is named after Kafka's topic-level config
/// (`segment.bytes` → `segmentBytes`). Change them at run time with `PartitionLog.updateConfig(_:)`.
public struct LogConfig: Sendable, Equatable {
    /// segment.bytes: roll the active segment before it grows past this size.
    public var segmentBytes: Int = 1 << 30
    /// segment.ms: roll the active segment once it is this old (and non-empty).
    public var segmentMs: Int64 = 7 * 24 * 3_600_000
    /// segment.index.bytes: maximum size of an offset index (8 bytes an entry); a full index rolls the segment.
    public var segmentIndexBytes: Int = 10 * 1024 * 1024
    /// index.interval.bytes: bytes of batches between two offset/time index entries.
    public var indexIntervalBytes: Int = 4096
    /// retention.ms: delete segments whose largest timestamp is older than this; -1 keeps them forever.
    public var retentionMs: Int64 = 7 * 24 * 3_600_000
    /// retention.bytes: delete the oldest segments while the partition is larger than this; -1 disables.
    public var retentionBytes: Int64 = -1
    /// cleanup.policy.
    public var cleanupPolicy: CleanupPolicy = .delete
    /// delete.retention.ms: how long the cleaner keeps tombstones (and transaction markers) once cleaned.
    public var deleteRetentionMs: Int64 = 86_400_000
    /// min.cleanable.dirty.ratio: the cleaner runs when dirty bytes / total bytes reach this.
    public var minCleanableDirtyRatio: Double = 0.5
    /// min.compaction.lag.ms: records younger than this are never compacted.
    public var minCompactionLagMs: Int64 = 0
    /// file.delete.delay.ms: time between renaming a segment to `.deleted` and removing it.
    public var fileDeleteDelayMs: Int64 = 60_000
    /// flush.messages: fsync after this many messages. 1 (the Runnel default) makes every append durable
    /// before it is acknowledged; a larger value acknowledges from the page cache (Kafka's default is Long.MAX).
    public var flushMessages: Int64 = 1
    /// flush.ms: fsync when the oldest unflushed append is this old (page-cache acknowledgement only).
    public var flushMs: Int64 = Int64.max
    /// message.timestamp.type: CreateTime keeps producer timestamps; LogAppendTime stamps the broker's clock.
    public var messageTimestampType: TimestampType = .createTime
    /// max.message.bytes: the largest batch the log accepts.
    public var maxMessageBytes: Int = 1_048_588
    /// producer.id.expiration.ms: idempotent producer state is dropped after this much inactivity.
    public var producerIdExpirationMs: Int64 = 86_400_000
    /// transactional.id.expiration.ms (broker level in Kafka): bounds how long transactional producer
    /// state with no open transaction is kept.
    public var transactionalIdExpirationMs: Int64 = 604_800_000

    /// preallocate: reserve segment.bytes of blocks when a segment is created (fallocate, keeping the
    /// file's size; on the direct path the padded tail is cut back at roll and close).
    public var preallocate = false

    /// remote.storage.enable (KIP-405): closed segments leaving the hot set move to the remote tier
    /// (when the broker has one: `remote.log.dir`).
    public var remoteStorageEnable = false
    /// local.retention.ms: how long closed segments stay in the log dir before they move to the remote
    /// tier; -2 means retention.ms (Kafka's rule), -1 no time limit.
    public var localRetentionMs: Int64 = -2
    /// local.retention.bytes: the log dir part of a partition is kept below this by moving its oldest
    /// segments to the remote tier; -2 means retention.bytes, -1 no size limit.
    public var localRetentionBytes: Int64 = -2

    /// Kafka's defaults (and Runnel's durable flush.messages).
    public init() {}

    /// True when appends must be fsynced before they are acknowledged.
    public var isDurableAcknowledgement: Bool { flushMessages <= 1 }

    /// Checks ranges; returns a typed error naming the first bad setting.
    public func validate() throws(StorageError) {
        guard segmentBytes >= 14 else { throw .invalidConfig("segment.bytes must be at least 14") }
        guard segmentMs >= 1 else { throw .invalidConfig("segment.ms must be at least 1") }
        guard segmentIndexBytes >= 8 else { throw .invalidConfig("segment.index.bytes must be at least 8") }
        guard indexIntervalBytes >= 0 else { throw .invalidConfig("index.interval.bytes must be >= 0") }
        guard minCleanableDirtyRatio >= 0, minCleanableDirtyRatio <= 1 else {
            throw .invalidConfig("min.cleanable.dirty.ratio must be in [0, 1]")
        }
        guard flushMessages >= 1 else { throw .invalidConfig("flush.messages must be at least 1") }
        guard fileDeleteDelayMs >= 0 else { throw .invalidConfig("file.delete.delay.ms must be >= 0") }
        guard !cleanupPolicy.isEmpty else { throw .invalidConfig("cleanup.policy must not be empty") }
        guard localRetentionMs >= -2, localRetentionBytes >= -2 else {
            throw .invalidConfig("local.retention.ms and local.retention.bytes must be -2, -1 or a limit")
        }
    }
}
