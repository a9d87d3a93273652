// A topic's effective settings as a partition uses them: the storage LogConfig plus what the
// broker checks on produce.
import KafkaRecords
import RunnelStorage

/// Effective topic-level settings (topic override → broker setting → the settings table's default),
/// built only by `TopicConfigResolver`.
struct TopicLogSettings: Sendable {
    /// Segment, retention, cleanup, flush and timestamp settings for storage.
    var log: LogConfig
    /// `max.message.bytes`: the largest record batch accepted.
    var maxMessageBytes: Int
    /// `message.timestamp.type`
    var timestampType: TimestampType
    /// `message.timestamp.before.max.ms` and `message.timestamp.after.max.ms` (CreateTime only).
    var timestampBeforeMaxMs: Int64
    var timestampAfterMaxMs: Int64
    /// `compression.type`: nil keeps what the producer sent ("producer"); a codec (`.none` for
    /// "uncompressed") makes produce recompress batches sent with another codec.
    var compression: CompressionCodec?
    /// `compression.gzip.level`, `compression.lz4.level`, `compression.zstd.level`.
    var gzipLevel: Int32
    var lz4Level: Int32
    var zstdLevel: Int32
    /// `min.insync.replicas`
    var minInsyncReplicas: Int
    /// `leader.replication.throttled.replicas` and `follower.replication.throttled.replicas`.
    var leaderThrottledReplicas: ThrottledReplicaList = .none
    var followerThrottledReplicas: ThrottledReplicaList = .none

    /// The level to recompress with for `codec` (nil where the codec has no level).
    func compressionLevel(for codec: CompressionCodec) -> Int32? {
        switch codec {
        case .gzip: gzipLevel
        case .lz4: lz4Level
        case .zstd: zstdLevel
        case .none, .snappy: nil
        }
    }
}
