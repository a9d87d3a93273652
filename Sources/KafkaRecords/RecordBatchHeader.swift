// The fixed 61-byte header of a magic-v2 record batch, read without touching the records.
import NIOCore

/// Byte offsets of the fields in a magic-v2 record batch header.
public enum RecordBatchLayout {
    public static let baseOffset = 0
    public static let batchLength = 8
    public static let partitionLeaderEpoch = 12
    public static let magic = 16
    public static let crc = 17
    public static let attributes = 21
    public static let lastOffsetDelta = 23
    public static let baseTimestamp = 27
    public static let maxTimestamp = 35
    public static let producerId = 43
    public static let producerEpoch = 51
    public static let baseSequence = 53
    public static let recordsCount = 57
    /// Size of the header; records (or the compressed block) follow.
    public static let headerSize = 61
    /// Bytes before `batchLength` counts: baseOffset + batchLength.
    public static let logOverhead = 12
    /// The smallest valid batch: the header with no records.
    public static let minimumBatchSize = headerSize
}

/// Compression codec from bits 0–2 of the batch attributes.
public enum CompressionCodec: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4

    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    /// Parses Kafka's `compression.type` names ("none", "gzip", "snappy", "lz4", "zstd").
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = codec
    }
}

/// Timestamp type from bit 3 of the batch attributes.
public enum TimestampType: Int8, Sendable {
    case createTime = 0
    case logAppendTime = 1
}

/// The decoded header of one record batch. A value type: reading it copies 61 bytes, never the records.
public struct RecordBatchHeader: Sendable, Equatable {
    public var baseOffset: Int64
    /// Bytes after the `batchLength` field to the end of the batch.
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordsCount: Int32

    /// Total size of the batch in bytes, including the offset and length fields.
    public var totalSize: Int { Int(batchLength) + RecordBatchLayout.logOverhead }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    /// Compression codec, or nil for an unknown codec id.
    public var compression: CompressionCodec? { CompressionCodec(rawValue: attributes & 0x07) }
    public var timestampType: TimestampType { (attributes & 0x08) != 0 ? .logAppendTime : .createTime }
    public var isTransactional: Bool { (attributes & 0x10) != 0 }
    public var isControl: Bool { (attributes & 0x20) != 0 }
    public var hasDeleteHorizon: Bool { (attributes & 0x40) != 0 }
    /// True when the producer is idempotent or transactional (a producer id is set).
    public var hasProducerId: Bool { producerId >= 0 }
    /// Sequence number of the last record, wrapping at Int32.max as Kafka does.
    public var lastSequence: Int32 {
        guard baseSequence >= 0 else { return -1 }
        let last = Int64(baseSequence) + Int64(lastOffsetDelta)
        return last > Int64(Int32.max) ? Int32(last - Int64(Int32.max) - 1) : Int32(last)
    }

    public init(baseOffset: Int64, batchLength: Int32, partitionLeaderEpoch: Int32, magic: Int8, crc: UInt32,
                attributes: Int16, lastOffsetDelta: Int32, baseTimestamp: Int64, maxTimestamp: Int64,
                producerId: Int64, producerEpoch: Int16, baseSequence: Int32, recordsCount: Int32) {
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordsCount = recordsCount
    }

    /// Reads a header at absolute `index` of `buffer` without moving the reader index.
    /// Returns nil when fewer than 61 bytes are readable there (the caller decides which error that is).
    public init?(from buffer: ByteBuffer, at index: Int) {
        guard index >= buffer.readerIndex, buffer.writerIndex - index >= RecordBatchLayout.headerSize,
              let baseOffset = buffer.getInteger(at: index, as: Int64.self),
              let batchLength = buffer.getInteger(at: index + 8, as: Int32.self),
              let epoch = buffer.getInteger(at: index + 12, as: Int32.self),
              let magic = buffer.getInteger(at: index + 16, as: Int8.self),
              let crc = buffer.getInteger(at: index + 17, as: UInt32.self),
              let attributes = buffer.getInteger(at: index + 21, as: Int16.self),
              let lastOffsetDelta = buffer.getInteger(at: index + 23, as: Int32.self),
              let baseTimestamp = buffer.getInteger(at: index + 27, as: Int64.self),
              let maxTimestamp = buffer.getInteger(at: index + 35, as: Int64.self),
              let producerId = buffer.getInteger(at: index + 43, as: Int64.self),
              let producerEpoch = buffer.getInteger(at: index + 51, as: Int16.self),
              let baseSequence = buffer.getInteger(at: index + 53, as: Int32.self),
              let recordsCount = buffer.getInteger(at: index + 57, as: Int32.self)
        else { return nil }
        self.init(baseOffset: baseOffset, batchLength: batchLength, partitionLeaderEpoch: epoch, magic: magic,
                  crc: crc, attributes: attributes, lastOffsetDelta: lastOffsetDelta,
                  baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp, producerId: producerId,
                  producerEpoch: producerEpoch, baseSequence: baseSequence, recordsCount: recordsCount)
    }
}
