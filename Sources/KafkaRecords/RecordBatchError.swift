// Typed errors for reading, validating and (de)compressing record batches, each mapped to the Kafka error
// code a broker returns for it. KafkaRecords does not depend on KafkaProtocol, so codes are plain Int16.

/// Why a record batch (or a `records` field holding several) was rejected.
public enum RecordBatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer bytes remain than a batch header (61) or the log overhead (12) needs.
    case truncatedHeader(position: Int, available: Int)
    /// `batchLength` says the batch ends past the end of the buffer.
    case truncatedBatch(position: Int, batchSize: Int, available: Int)
    /// `batchLength` is smaller than the header or otherwise impossible.
    case invalidBatchLength(position: Int, batchLength: Int32)
    /// The stored CRC-32C does not match the bytes from `attributes` to the end of the batch.
    case crcMismatch(position: Int, stored: UInt32, computed: UInt32)
    /// Magic v0/v1 message sets (or any magic other than 2).
    case unsupportedMagic(position: Int, magic: Int8)
    /// Attribute bits 0–2 name no known codec.
    case unknownCompressionCodec(position: Int, id: Int16)
    /// A codec this build or this request version cannot handle.
    case unsupportedCompression(CompressionCodec)
    /// A record inside the batch is malformed (bad varint, length past its end, …).
    case corruptRecord(String)
    /// The record count / offsets / producer fields are inconsistent (Kafka's InvalidRecordException).
    case invalidRecord(String)
    /// A batch is larger than the configured maximum (`max.message.bytes`).
    case batchTooLarge(size: Int, maximum: Int)
    /// A record timestamp lies outside the allowed window.
    case invalidTimestamp(String)
    /// Decompression would produce more than the allowed number of bytes (zip-bomb protection).
    case decompressedSizeExceeded(codec: CompressionCodec, limit: Int)
    /// The compression library reported malformed input.
    case compressionFailed(codec: CompressionCodec, reason: String)

    /// Kafka error code for this failure (CORRUPT_MESSAGE 2, RECORD_TOO_LARGE 10, INVALID_TIMESTAMP 32,
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT 43, UNSUPPORTED_COMPRESSION_TYPE 76, INVALID_RECORD 87).
    public var kafkaErrorCode: Int16 {
        switch self {
        case .truncatedHeader, .truncatedBatch, .invalidBatchLength, .crcMismatch, .corruptRecord,
             .decompressedSizeExceeded, .compressionFailed:
            Self.corruptMessage
        case .unsupportedMagic: Self.unsupportedForMessageFormat
        case .unknownCompressionCodec, .unsupportedCompression: Self.unsupportedCompressionType
        case .invalidRecord: Self.invalidRecord
        case .batchTooLarge: Self.recordTooLarge
        case .invalidTimestamp: Self.invalidTimestamp
        }
    }

    /// Kafka's CORRUPT_MESSAGE.
    public static let corruptMessage: Int16 = 2
    /// Kafka's RECORD_TOO_LARGE.
    public static let recordTooLarge: Int16 = 10
    /// Kafka's INVALID_TIMESTAMP.
    public static let invalidTimestamp: Int16 = 32
    /// Kafka's UNSUPPORTED_FOR_MESSAGE_FORMAT.
    public static let unsupportedForMessageFormat: Int16 = 43
    /// Kafka's UNSUPPORTED_COMPRESSION_TYPE.
    public static let unsupportedCompressionType: Int16 = 76
    /// Kafka's INVALID_RECORD.
    public static let invalidRecord: Int16 = 87

    public var description: String {
        switch self {
        case let .truncatedHeader(position, available):
            "record batch at byte \(position) is truncated: \(available) bytes left, a batch header needs 61"
        case let .truncatedBatch(position, batchSize, available):
            "record batch at byte \(position) declares \(batchSize) bytes but only \(available) remain"
        case let .invalidBatchLength(position, batchLength):
            "record batch at byte \(position) has impossible batchLength \(batchLength) (minimum 49)"
        case let .crcMismatch(position, stored, computed):
            "record batch at byte \(position) is corrupt: stored CRC-32C \(hex(stored)), computed \(hex(computed))"
        case let .unsupportedMagic(position, magic):
            "record batch at byte \(position) has magic \(magic); only magic v2 record batches are supported "
                + "(v0/v1 message sets come from clients older than Kafka 0.11)"
        case let .unknownCompressionCodec(position, id):
            "record batch at byte \(position) uses unknown compression codec id \(id)"
        case let .unsupportedCompression(codec):
            "compression codec \(codec) is not supported here"
        case let .corruptRecord(reason): "corrupt record: \(reason)"
        case let .invalidRecord(reason): "invalid record batch: \(reason)"
        case let .batchTooLarge(size, maximum):
            "record batch of \(size) bytes exceeds the maximum of \(maximum) (max.message.bytes)"
        case let .invalidTimestamp(reason): "invalid timestamp: \(reason)"
        case let .decompressedSizeExceeded(codec, limit):
            "\(codec) records decompress to more than \(limit) bytes; refusing (possible decompression bomb)"
        case let .compressionFailed(codec, reason): "\(codec) (de)compression failed: \(reason)"
        }
    }
}

private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }
