// A zero-copy, read-only view over one magic-v2 record batch held in a ByteBuffer slice.
import NIOCore

/// One magic-v2 record batch. `bytes` is exactly the batch (offset field through its last record) and
/// shares storage with the buffer it was cut from; nothing is copied until records are decompressed.
public struct RecordBatch: Sendable, Equatable {
    /// The default bound on the decompressed size of a batch's records (zip-bomb protection): 256 MiB.
    public static let defaultMaxDecompressedBytes = 256 << 20

    /// The batch bytes, readable from the base offset field to the end of the batch.
    public let bytes: ByteBuffer
    /// The decoded 61-byte header.
    public let header: RecordBatchHeader

    /// Cuts the batch starting at the reader index of `buffer`. Checks the magic byte, the header size and
    /// that `batchLength` fits in the readable bytes; does not check the CRC (see `ensureValid()`).
    public init(_ buffer: ByteBuffer) throws(RecordBatchError) {
        self = try Self.cut(from: buffer, at: buffer.readerIndex, position: 0)
    }

    init(bytes: ByteBuffer, header: RecordBatchHeader) {
        self.bytes = bytes
        self.header = header
    }

    /// Reads the batch at absolute `index` of `buffer`; `position` is only used in error messages.
    static func cut(from buffer: ByteBuffer, at index: Int, position: Int) throws(RecordBatchError) -> RecordBatch {
        let available = buffer.writerIndex - index
        guard available > RecordBatchLayout.magic else { throw .truncatedHeader(position: position, available: available) }
        let magic = buffer.getInteger(at: index + RecordBatchLayout.magic, as: Int8.self) ?? 0
        guard magic == 2 else { throw .unsupportedMagic(position: position, magic: magic) }
        guard let header = RecordBatchHeader(from: buffer, at: index) else {
            throw .truncatedHeader(position: position, available: available)
        }
        guard Int(header.batchLength) >= RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead else {
            throw .invalidBatchLength(position: position, batchLength: header.batchLength)
        }
        guard header.totalSize <= available, let bytes = buffer.getSlice(at: index, length: header.totalSize) else {
            throw .truncatedBatch(position: position, batchSize: header.totalSize, available: available)
        }
        return RecordBatch(bytes: bytes, header: header)
    }

    // MARK: Header shortcuts

    /// Offset of the first record.
    public var baseOffset: Int64 { header.baseOffset }
    /// Offset of the last record (base offset + lastOffsetDelta).
    public var lastOffset: Int64 { header.lastOffset }
    /// The offset the next batch starts at.
    public var nextOffset: Int64 { header.lastOffset + 1 }
    /// Leader epoch stamped by the broker that appended the batch.
    public var partitionLeaderEpoch: Int32 { header.partitionLeaderEpoch }
    /// Number of records the header declares.
    public var recordsCount: Int32 { header.recordsCount }
    /// Codec of the records section; nil for an unknown codec id.
    public var compression: CompressionCodec? { header.compression }
    /// CreateTime or LogAppendTime.
    public var timestampType: TimestampType { header.timestampType }
    /// True when the batch belongs to a transaction.
    public var isTransactional: Bool { header.isTransactional }
    /// True for control batches (transaction markers).
    public var isControl: Bool { header.isControl }
    /// Producer id, -1 when the producer is neither idempotent nor transactional.
    public var producerId: Int64 { header.producerId }
    /// Producer epoch, -1 without a producer id.
    public var producerEpoch: Int16 { header.producerEpoch }
    /// Sequence number of the first record, -1 without a producer id.
    public var baseSequence: Int32 { header.baseSequence }
    /// Largest record timestamp, or the LogAppendTime.
    public var maxTimestamp: Int64 { header.maxTimestamp }
    /// Size of the whole batch in bytes.
    public var sizeInBytes: Int { bytes.readableBytes }

    // MARK: Integrity

    /// CRC-32C over `attributes` to the end of the batch, as written into the `crc` field.
    public var computedCRC: UInt32 {
        CRC32C.checksum(of: bytes, at: bytes.readerIndex + RecordBatchLayout.attributes,
                        length: bytes.readableBytes - RecordBatchLayout.attributes) ?? 0
    }

    /// True when the stored CRC matches the batch bytes.
    public var isCRCValid: Bool { computedCRC == header.crc }

    /// Throws `.crcMismatch` unless the stored CRC matches (Kafka's `ensureValid`).
    public func ensureValid() throws(RecordBatchError) {
        let computed = computedCRC
        guard computed == header.crc else { throw .crcMismatch(position: 0, stored: header.crc, computed: computed) }
    }

    // MARK: Records

    /// The bytes after the header: the records, or the compressed block holding them.
    public var recordsSection: ByteBuffer {
        bytes.getSlice(at: bytes.readerIndex + RecordBatchLayout.headerSize,
                       length: bytes.readableBytes - RecordBatchLayout.headerSize) ?? ByteBuffer()
    }

    /// An iterator over the records, decompressing first when a codec is set (at most
    /// `maxDecompressedBytes`). Uncompressed records are read in place.
    public func makeRecordIterator(maxDecompressedBytes: Int = defaultMaxDecompressedBytes,
                                   allocator: ByteBufferAllocator = ByteBufferAllocator())
        throws(RecordBatchError) -> RecordIterator {
        guard let codec = header.compression else {
            throw .unknownCompressionCodec(position: 0, id: header.attributes & 0x07)
        }
        let section = recordsSection
        let records = codec == .none ? section
            : try RecordCompression.decompress(section, codec: codec, maxOutputBytes: maxDecompressedBytes,
                                               allocator: allocator)
        return RecordIterator(records: records, header: header)
    }

    /// All records of the batch in order (decompressing if needed).
    public func records(maxDecompressedBytes: Int = defaultMaxDecompressedBytes) throws(RecordBatchError) -> [Record] {
        var iterator = try makeRecordIterator(maxDecompressedBytes: maxDecompressedBytes)
        var result: [Record] = []
        result.reserveCapacity(Swift.min(Int(Swift.max(header.recordsCount, 0)), sizeInBytes / 7 + 1))
        while let record = try iterator.next() { result.append(record) }
        return result
    }

    /// The transaction marker of a control batch, or nil when this is not a control batch or its record
    /// is another kind of control record.
    public func endTransactionMarker() throws(RecordBatchError) -> EndTransactionMarker? {
        guard header.isControl else { return nil }
        var iterator = try makeRecordIterator()
        guard let record = try iterator.next() else { return nil }
        return try EndTransactionMarker(controlRecord: record)
    }
}

/// Reads records one at a time from an uncompressed records section; checks the declared count.
public struct RecordIterator: Sendable {
    private var remaining: ByteBuffer
    private var recordsLeft: Int32
    private let baseOffset: Int64
    private let baseTimestamp: Int64
    private let logAppendTime: Int64?

    init(records: ByteBuffer, header: RecordBatchHeader) {
        remaining = records
        recordsLeft = header.recordsCount
        baseOffset = header.baseOffset
        baseTimestamp = header.baseTimestamp
        logAppendTime = header.timestampType == .logAppendTime ? header.maxTimestamp : nil
    }

    /// The next record, nil after the last; throws when the bytes disagree with the declared count.
    public mutating func next() throws(RecordBatchError) -> Record? {
        guard recordsLeft > 0 else {
            guard recordsLeft == 0 else { throw .invalidRecord("negative record count \(recordsLeft)") }
            guard remaining.readableBytes == 0 else {
                throw .corruptRecord("\(remaining.readableBytes) bytes remain after the declared number of records")
            }
            return nil
        }
        guard remaining.readableBytes > 0 else {
            throw .corruptRecord("batch ended with \(recordsLeft) declared records still unread")
        }
        recordsLeft -= 1
        return try Record.read(from: &remaining, baseOffset: baseOffset, baseTimestamp: baseTimestamp,
                               logAppendTime: logAppendTime)
    }
}
