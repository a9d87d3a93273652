// BatchHeaderPatcher: the write vector of an append — patched batch headers in one small buffer, the
// records as slices of the caller's buffer (never copied). Only the base offset and partition leader
// epoch are rewritten (outside the CRC); with LogAppendTime the attributes and max timestamp change too,
// and the CRC is recomputed over the new header bytes and the records in place.
import KafkaRecords
import NIOCore

/// Builds the chunks (`pwritev` iovecs) of one append.
struct BatchHeaderPatcher {
    /// Patched headers and record slices, in file order.
    private(set) var chunks: [ByteBuffer] = []
    private var patches: ByteBuffer

    init(batchCount: Int) {
        patches = ByteBufferAllocator().buffer(capacity: batchCount * RecordBatchLayout.headerSize)
        chunks.reserveCapacity(batchCount * 2)
    }

    /// Adds the batch at `batchIndex` of `records`. With `assign`, its base offset and leader epoch become
    /// the given ones (client and coordinator appends); without, the batch is written as sent (replication).
    /// `appendTime` ≥ 0 stamps LogAppendTime. Returns the header as written.
    mutating func add(_ original: RecordBatchHeader, at batchIndex: Int, of records: ByteBuffer,
                      assign: (baseOffset: Int64, leaderEpoch: Int32)?, appendTime: Int64) -> RecordBatchHeader {
        var header = original
        if let assign {
            header.baseOffset = assign.baseOffset
            header.partitionLeaderEpoch = assign.leaderEpoch
        }
        if appendTime >= 0 {
            header.attributes |= 0x08
            header.maxTimestamp = appendTime
            let patchStart = patches.writerIndex
            Self.writeHeader(header, into: &patches)
            let crcHeader = patches.withUnsafeReadableBytes { raw in
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(patchStart - patches.readerIndex + RecordBatchLayout.attributes)...]))
            }
            let recordsLength = header.totalSize - RecordBatchLayout.headerSize
            let crc = records.withUnsafeReadableBytes { raw in
                let start = batchIndex - records.readerIndex + RecordBatchLayout.headerSize
                return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + recordsLength)]), continuing: crcHeader)
            }
            header.crc = crc
            patches.setInteger(crc, at: patchStart + RecordBatchLayout.crc)
            append(patches.getSlice(at: patchStart, length: RecordBatchLayout.headerSize))
            if recordsLength > 0 {
                append(records.getSlice(at: batchIndex + RecordBatchLayout.headerSize, length: recordsLength))
            }
        } else if assign != nil {
            let patchStart = patches.writerIndex
            patches.writeInteger(header.baseOffset)
            patches.writeInteger(header.batchLength)
            patches.writeInteger(header.partitionLeaderEpoch)
            append(patches.getSlice(at: patchStart, length: 16))
            append(records.getSlice(at: batchIndex + 16, length: header.totalSize - 16))
        } else {
            append(records.getSlice(at: batchIndex, length: header.totalSize))
        }
        return header
    }

    // The slices lie inside buffers whose sizes were checked by the validator; nil cannot happen, and is
    // skipped rather than trapped on.
    private mutating func append(_ slice: ByteBuffer?) {
        if let slice { chunks.append(slice) }
    }

    private static func writeHeader(_ header: RecordBatchHeader, into buffer: inout ByteBuffer) {
        buffer.writeInteger(header.baseOffset)
        buffer.writeInteger(header.batchLength)
        buffer.writeInteger(header.partitionLeaderEpoch)
        buffer.writeInteger(header.magic)
        buffer.writeInteger(header.crc)
        buffer.writeInteger(header.attributes)
        buffer.writeInteger(header.lastOffsetDelta)
        buffer.writeInteger(header.baseTimestamp)
        buffer.writeInteger(header.maxTimestamp)
        buffer.writeInteger(header.producerId)
        buffer.writeInteger(header.producerEpoch)
        buffer.writeInteger(header.baseSequence)
        buffer.writeInteger(header.recordsCount)
    }
}
