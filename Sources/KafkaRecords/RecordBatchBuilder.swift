// Builds valid magic-v2 record batches: records written straight into the output buffer, header and CRC
// filled in at the end, the records section compressed when a codec is chosen.
import NIOCore

/// Accumulates records and produces one magic-v2 record batch.
///
/// Uncompressed records are encoded directly after a reserved 61-byte header in the output buffer, so
/// `build()` only fills in the header and the CRC. With a codec, the same bytes are compressed into a new
/// buffer once at `build()`.
public struct RecordBatchBuilder: Sendable {
    /// Codec used for the records section.
    public let compression: CompressionCodec
    /// The codec's level (nil: Kafka's default for the codec).
    public var compressionLevel: Int32?
    /// Base offset written into the header (0 for produce requests).
    public var baseOffset: Int64
    /// Partition leader epoch written into the header (-1 from clients).
    public var partitionLeaderEpoch: Int32
    /// Producer id, -1 for a plain producer.
    public var producerId: Int64
    /// Producer epoch, -1 for a plain producer.
    public var producerEpoch: Int16
    /// Sequence number of the first record, -1 for a plain producer.
    public var baseSequence: Int32
    /// Sets the transactional attribute bit.
    public var isTransactional: Bool
    /// Sets the control attribute bit (transaction markers; brokers only).
    public var isControl: Bool
    /// When set, the batch is written with LogAppendTime and this as its maxTimestamp.
    public var logAppendTime: Int64?

    private var buffer: ByteBuffer
    private let allocator: ByteBufferAllocator
    private var baseTimestamp: Int64 = -1
    private var maxTimestamp: Int64 = -1
    /// Number of records appended.
    public private(set) var recordCount: Int32 = 0

    /// A builder for one batch; `initialCapacity` sizes the output buffer up front.
    public init(compression: CompressionCodec = .none, compressionLevel: Int32? = nil, baseOffset: Int64 = 0,
                partitionLeaderEpoch: Int32 = -1,
                producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1,
                isTransactional: Bool = false, isControl: Bool = false, logAppendTime: Int64? = nil,
                initialCapacity: Int = 1024, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.baseOffset = baseOffset
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.isTransactional = isTransactional
        self.isControl = isControl
        self.logAppendTime = logAppendTime
        self.allocator = allocator
        buffer = allocator.buffer(capacity: Swift.max(initialCapacity, RecordBatchLayout.headerSize))
        buffer.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
    }

    /// Bytes written so far (header plus uncompressed records): an upper bound on the uncompressed batch.
    public var estimatedSizeInBytes: Int { buffer.readableBytes }

    /// Appends a record with the next offset delta. The first record's timestamp becomes the base timestamp.
    public mutating func append(key: ByteBuffer?, value: ByteBuffer?, headers: [RecordHeader] = [],
                                timestamp: Int64) {
        if recordCount == 0 { baseTimestamp = timestamp }
        maxTimestamp = Swift.max(maxTimestamp, timestamp)
        Record.write(to: &buffer, timestampDelta: timestamp &- baseTimestamp, offsetDelta: recordCount,
                     key: key, value: value, headers: headers)
        recordCount += 1
    }

    /// Convenience for text keys and values (CLI, tests).
    public mutating func append(key: String?, value: String?, headers: [RecordHeader] = [], timestamp: Int64) {
        append(key: key.map { ByteBuffer(string: $0) }, value: value.map { ByteBuffer(string: $0) },
               headers: headers, timestamp: timestamp)
    }

    /// Finishes the batch: compresses the records if a codec is set, writes the header and the CRC.
    /// The result's readable bytes are exactly one batch.
    public func build() throws(RecordBatchError) -> ByteBuffer {
        var output: ByteBuffer
        if compression == .none {
            output = buffer
        } else {
            let records = buffer.getSlice(at: buffer.readerIndex + RecordBatchLayout.headerSize,
                                          length: buffer.readableBytes - RecordBatchLayout.headerSize) ?? ByteBuffer()
            output = allocator.buffer(capacity: RecordBatchLayout.headerSize + records.readableBytes / 2 + 64)
            output.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
            try RecordCompression.compress(records, codec: compression, level: compressionLevel, into: &output)
        }
        guard output.readableBytes - RecordBatchLayout.logOverhead <= Int(Int32.max) else {
            throw .batchTooLarge(size: output.readableBytes, maximum: Int(Int32.max))
        }
        var attributes = compression.rawValue
        if logAppendTime != nil { attributes |= 0x08 }
        if isTransactional { attributes |= 0x10 }
        if isControl { attributes |= 0x20 }
        let start = output.readerIndex
        let header = RecordBatchHeader(
            baseOffset: baseOffset, batchLength: Int32(output.readableBytes - RecordBatchLayout.logOverhead),
            partitionLeaderEpoch: partitionLeaderEpoch, magic: 2, crc: 0, attributes: attributes,
            lastOffsetDelta: Swift.max(recordCount - 1, 0), baseTimestamp: baseTimestamp,
            maxTimestamp: logAppendTime ?? maxTimestamp, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, recordsCount: recordCount)
        header.write(to: &output, at: start)
        RecordBatchRewriter.updateCRC(in: &output, at: start, totalSize: output.readableBytes)
        return output
    }

    /// A control batch holding one transaction marker (commit or abort) for `producerId`/`producerEpoch`.
    public static func endTransactionMarker(_ marker: EndTransactionMarker, producerId: Int64, producerEpoch: Int16,
                                            timestamp: Int64, baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1,
                                            allocator: ByteBufferAllocator = ByteBufferAllocator())
        -> ByteBuffer {
        var builder = RecordBatchBuilder(baseOffset: baseOffset, partitionLeaderEpoch: partitionLeaderEpoch,
                                         producerId: producerId, producerEpoch: producerEpoch, baseSequence: -1,
                                         isTransactional: true, isControl: true, initialCapacity: 96,
                                         allocator: allocator)
        builder.append(key: marker.type.encodedKey(allocator: allocator),
                       value: marker.encodedValue(allocator: allocator), timestamp: timestamp)
        // Uncompressed building cannot fail.
        return (try? builder.build()) ?? ByteBuffer()
    }
}

extension RecordBatchHeader {
    /// Writes the 61 header bytes at absolute `index` (the CRC as stored in `crc`).
    func write(to buffer: inout ByteBuffer, at index: Int) {
        buffer.setInteger(baseOffset, at: index + RecordBatchLayout.baseOffset)
        buffer.setInteger(batchLength, at: index + RecordBatchLayout.batchLength)
        buffer.setInteger(partitionLeaderEpoch, at: index + RecordBatchLayout.partitionLeaderEpoch)
        buffer.setInteger(magic, at: index + RecordBatchLayout.magic)
        buffer.setInteger(crc, at: index + RecordBatchLayout.crc)
        buffer.setInteger(attributes, at: index + RecordBatchLayout.attributes)
        buffer.setInteger(lastOffsetDelta, at: index + RecordBatchLayout.lastOffsetDelta)
        buffer.setInteger(baseTimestamp, at: index + RecordBatchLayout.baseTimestamp)
        buffer.setInteger(maxTimestamp, at: index + RecordBatchLayout.maxTimestamp)
        buffer.setInteger(producerId, at: index + RecordBatchLayout.producerId)
        buffer.setInteger(producerEpoch, at: index + RecordBatchLayout.producerEpoch)
        buffer.setInteger(baseSequence, at: index + RecordBatchLayout.baseSequence)
        buffer.setInteger(recordsCount, at: index + RecordBatchLayout.recordsCount)
    }
}
