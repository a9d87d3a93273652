// Re-encoding batches with a topic's `compression.type` (Kafka's LogValidator path where the target codec
// differs from the producer's): decompress (bounded), check every record, compress, new header and CRC.
import NIOCore

/// Rewrites record batches with another compression codec, as a Kafka broker does when a topic's
/// `compression.type` names a codec other than the one a producer used.
///
/// The records themselves are not re-encoded: their bytes (offset and timestamp deltas, keys, values,
/// headers) are decompressed once, walked once to validate them, and compressed with the target codec.
/// The header keeps its base offset, producer id, epoch, base sequence and attribute bits except the
/// codec; a CreateTime batch's maxTimestamp becomes the largest record timestamp, as Kafka recomputes it.
/// Control batches (transaction markers) are never recompressed.
public enum RecordBatchRecompressor {
    /// True when a batch with `header` must be rewritten to be stored with `target`.
    public static func needsRecompression(_ header: RecordBatchHeader, to target: CompressionCodec) -> Bool {
        !header.isControl && header.compression != target
    }

    /// Recompresses every batch of `records` that does not already use `target` (see
    /// `needsRecompression`). Returns `records` itself when no batch needs it; otherwise a new buffer with
    /// the batches in order (a single recompressed batch is returned without a further copy).
    ///
    /// `options` supplies the record checks Kafka makes when it recompresses (dense offset deltas for
    /// clients, keys for compacted topics, the CreateTime window), the decompression bound, and
    /// `maxBatchSize` (`max.message.bytes`), applied to each recompressed batch. The batches are expected
    /// to have passed `RecordBatchValidator.validate` already (header, CRC, counts).
    public static func recompress(records: ByteBuffer, to target: CompressionCodec, level: Int32? = nil,
                                  options: RecordBatchValidator.Options,
                                  allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RecordBatchError)
        -> ByteBuffer {
        var scan = MemoryRecords(records).batchIterator()
        var needed = false
        while !needed, let batch = try scan.next() { needed = needsRecompression(batch.header, to: target) }
        guard needed else { return records }

        var iterator = MemoryRecords(records).batchIterator()
        var output: ByteBuffer?
        var single: ByteBuffer?
        while true {
            let position = iterator.position
            guard let batch = try iterator.next() else { break }
            let rewritten = needsRecompression(batch.header, to: target)
                ? try recompress(batch, to: target, level: level, options: options, position: position,
                                 allocator: allocator)
                : batch.bytes
            if output == nil, single == nil, iterator.position == records.readableBytes {
                single = rewritten // the only batch: hand it back as built
            } else {
                if output == nil { output = allocator.buffer(capacity: records.readableBytes + 64) }
                output?.writeImmutableBuffer(rewritten)
            }
        }
        return single ?? output ?? records
    }

    /// Recompresses one batch to `target` with the codec's `level` (nil: Kafka's default level) and
    /// returns the new batch. `position` (the batch's byte offset in its request) only feeds error messages.
    ///
    /// Throws `.compressionFailed` / `.decompressedSizeExceeded` (CORRUPT_MESSAGE) for a bad or oversized
    /// compressed block, `.corruptRecord` / `.invalidRecord` / `.invalidTimestamp` for records that fail
    /// the checks of `options`, and `.batchTooLarge` (MESSAGE_TOO_LARGE) when the new batch exceeds
    /// `options.maxBatchSize`.
    public static func recompress(_ batch: RecordBatch, to target: CompressionCodec, level: Int32? = nil,
                                  options: RecordBatchValidator.Options, position: Int = 0,
                                  allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RecordBatchError)
        -> ByteBuffer {
        var header = batch.header
        guard let source = header.compression else {
            throw .unknownCompressionCodec(position: position, id: header.attributes & 0x07)
        }
        let section = batch.recordsSection
        let records = source == .none ? section
            : try RecordCompression.decompress(section, codec: source, maxOutputBytes: options.maxDecompressedBytes,
                                               allocator: allocator)
        let maxRecordTimestamp = try RecordBatchValidator.checkRecords(records, header: header, position: position,
                                                                       options: options)

        let estimate = target == .none ? records.readableBytes : records.readableBytes / 2 + 64
        var output = allocator.buffer(capacity: RecordBatchLayout.headerSize + estimate)
        output.writeRepeatingByte(0, count: RecordBatchLayout.headerSize)
        try RecordCompression.compress(records, codec: target, level: level, into: &output)
        let size = output.readableBytes
        if let maximum = options.maxBatchSize, size > maximum { throw .batchTooLarge(size: size, maximum: maximum) }
        guard size - RecordBatchLayout.logOverhead <= Int(Int32.max) else {
            throw .batchTooLarge(size: size, maximum: Int(Int32.max))
        }

        header.attributes = (header.attributes & ~0x07) | target.rawValue
        header.batchLength = Int32(size - RecordBatchLayout.logOverhead)
        if header.timestampType == .createTime, header.recordsCount > 0 { header.maxTimestamp = maxRecordTimestamp }
        header.write(to: &output, at: output.readerIndex)
        RecordBatchRewriter.updateCRC(in: &output, at: output.readerIndex, totalSize: size)
        return output
    }
}
