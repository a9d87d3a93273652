// LogTypes: the value types of the PartitionLog API — append origin and result, read isolation,
// file slices and read results, timestamp lookups, partition descriptors.
import Foundation
import NIOCore

/// Who is appending: Kafka's AppendOrigin.
public enum AppendOrigin: Sendable, Equatable {
    /// A producer: offsets are assigned, producer id/epoch/sequence are validated.
    case client
    /// A follower copying the leader: offsets are already set and kept; no producer validation.
    case replication
    /// The group or transaction coordinator (markers, offsets): offsets assigned, sequences not checked.
    case coordinator
}

/// What a successful append reports.
public struct AppendResult: Sendable, Equatable {
    /// Offset of the first record appended (or of the original append, for a duplicate).
    public var baseOffset: Int64
    /// Offset of the last record appended.
    public var lastOffset: Int64
    /// The broker time stamped on the batches with LogAppendTime, else -1.
    public var logAppendTime: Int64
    /// The log start offset after the append.
    public var logStartOffset: Int64
    /// True when the batch duplicated one of the producer's last five: nothing was written.
    public var isDuplicate: Bool

    /// A result with every field given.
    public init(baseOffset: Int64, lastOffset: Int64, logAppendTime: Int64, logStartOffset: Int64, isDuplicate: Bool) {
        self.baseOffset = baseOffset
        self.lastOffset = lastOffset
        self.logAppendTime = logAppendTime
        self.logStartOffset = logStartOffset
        self.isDuplicate = isDuplicate
    }
}

/// How far a read may go (Kafka's FetchIsolation).
public enum FetchIsolation: Sendable, Equatable {
    /// Up to the log end offset: everything durable (coordinator loads, scans).
    case logEnd
    /// Up to what is written to the file, durable or not (followers fetching from their leader, as
    /// Kafka's followers read the leader's page cache; the high watermark still waits for durability).
    case written
    /// Up to the high watermark (read_uncommitted consumers).
    case highWatermark
    /// Up to the last stable offset, with aborted transactions (read_committed consumers).
    case transactionCommitted
}

/// A byte range of a segment file, for sendfile / `FileRegion`. Holding the slice keeps the file open,
/// even after the segment was deleted by retention or replaced by compaction.
public struct FileSlice: Sendable {
    /// The segment file (reference-counted: valid while the slice lives).
    public let file: LogFileHandle
    /// First byte of the range in the file.
    public let position: Int64
    /// Bytes in the range.
    public let length: Int

    /// Copies the bytes (for TLS connections and tests).
    public func readBytes() throws(StorageError) -> ByteBuffer {
        try file.read(at: position, length: length)
    }
}

/// The answer to a read.
public struct LogReadResult: Sendable {
    /// Whole batches from the fetch offset on; the last one may be cut at max bytes, as Kafka does.
    public var slices: [FileSlice] = []
    /// The same, when the bytes came from the direct path's tail cache instead of the file: slices of
    /// its buffers (zero copy; hold them only until the response is written). Either this or `slices`.
    public var buffers: [ByteBuffer] = []
    /// The offset the read asked for.
    public var fetchOffset: Int64
    /// Base offset of the first batch returned (≤ fetchOffset), nil when empty.
    public var firstBatchOffset: Int64?
    /// The high watermark when the read was planned.
    public var highWatermark: Int64
    /// The last stable offset when the read was planned.
    public var lastStableOffset: Int64
    /// The log start offset when the read was planned.
    public var logStartOffset: Int64
    /// The log end offset when the read was planned.
    public var logEndOffset: Int64
    /// For read_committed: aborted transactions overlapping the returned range; nil otherwise.
    public var abortedTransactions: [AbortedTransaction]?
    /// Total bytes of all slices or buffers.
    public var byteCount: Int { slices.reduce(0) { $0 + $1.length } + buffers.reduce(0) { $0 + $1.readableBytes } }
    /// True when no bytes were returned.
    public var isEmpty: Bool { slices.isEmpty && buffers.isEmpty }

    /// Concatenated bytes of all slices (tests, TLS).
    public func readBytes() throws(StorageError) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: byteCount)
        for slice in slices {
            var bytes = try slice.readBytes()
            out.writeBuffer(&bytes)
        }
        for var buffer in buffers { out.writeBuffer(&buffer) }
        return out
    }
}

/// A ListOffsets answer.
public struct TimestampOffset: Sendable, Equatable {
    /// The record's timestamp (-1 for earliest and latest).
    public var timestamp: Int64
    /// The offset found.
    public var offset: Int64
    /// Leader epoch of the batch holding `offset`, nil when unknown.
    public var leaderEpoch: Int32?

    /// An answer with every field given.
    public init(timestamp: Int64, offset: Int64, leaderEpoch: Int32?) {
        self.timestamp = timestamp
        self.offset = offset
        self.leaderEpoch = leaderEpoch
    }
}

/// What a ListOffsets lookup asks for. The broker maps Kafka's wire timestamps (the -1/-2/-3
/// sentinels or a time) to it; storage never sees the sentinels.
public enum ListOffsetsSpec: Sendable, Equatable {
    /// The log start offset.
    case earliest
    /// The log end offset (the broker caps it at the high watermark or last stable offset).
    case latest
    /// The record with the largest timestamp.
    case maxTimestamp
    /// The first offset whose timestamp is ≥ the given one.
    case timestamp(Int64)
}

/// A partition found on disk or created.
public struct PartitionDescriptor: Sendable, Hashable {
    /// The topic name.
    public var topic: String
    /// The partition index.
    public var partition: Int32
    /// The topic id from `partition.metadata`, when known.
    public var topicId: UUID?
    /// The log dir holding the partition's directory.
    public var logDir: String

    /// A descriptor with every field given.
    public init(topic: String, partition: Int32, topicId: UUID?, logDir: String) {
        self.topic = topic
        self.partition = partition
        self.topicId = topicId
        self.logDir = logDir
    }
}

/// Who moves a partition log's high watermark — the seam between a single node and replication.
public enum HighWatermarkPolicy: Sendable, Equatable {
    /// Single node: the log itself moves the high watermark to its log end offset in its write-completion
    /// path (the data is fsynced there with flush.messages = 1), before the append is acknowledged and
    /// before the append listener runs (docs/decisions/0002).
    case durableLogEnd
    /// Replication: the owner sets it with `PartitionLog.updateHighWatermark(_:)` — a leader the minimum
    /// log end offset over the in-sync replicas, a follower the leader's high watermark.
    case external
}
