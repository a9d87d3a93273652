// A topic's effective settings as a partition uses them: the storage LogConfig plus what the
// broker checks on produce.
import KafkaRecords
import RunnelStorage

/// Effective topic-level settings (topic override → broker setting → Kafka default).
struct TopicLogSettings: Sendable {
    /// Segment, retention, cleanup, flush and timestamp settings for storage.
    var log: LogConfig
    /// `max.message.bytes`: the largest record batch accepted (Kafka default 1048588).
    var maxMessageBytes: Int = 1_048_588
    /// `message.timestamp.type`
    var timestampType: TimestampType = .createTime
    /// `message.timestamp.before.max.ms` and `message.timestamp.after.max.ms` (CreateTime only).
    var timestampBeforeMaxMs: Int64 = Int64.max
    var timestampAfterMaxMs: Int64 = 3_600_000
    /// `compression.type`: nil keeps what the producer sent ("producer"); a codec (`.none` for
    /// "uncompressed") makes produce recompress batches sent with another codec.
    var compression: CompressionCodec? = nil
    /// `compression.gzip.level`, `compression.lz4.level`, `compression.zstd.level` (Kafka's defaults).
    var gzipLevel: Int32 = -1
    var lz4Level: Int32 = 9
    var zstdLevel: Int32 = 3
    /// `min.insync.replicas`
    var minInsyncReplicas: Int = 1

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
