// In-place edits of batch headers on the append path: offsets and leader epoch (outside the CRC) and
// LogAppendTime (inside it, so the CRC is recomputed).
import NIOCore

/// Edits record batch headers inside a buffer without copying or re-encoding records.
public enum RecordBatchRewriter {
    /// Sets `baseOffset` and `partitionLeaderEpoch` of the batch at absolute `index`. Both fields lie before
    /// the CRC'd range, so the CRC stays valid. Returns false when no whole header is there.
    @discardableResult
    public static func setBaseOffset(_ baseOffset: Int64, partitionLeaderEpoch: Int32,
                                     in buffer: inout ByteBuffer, at index: Int) -> Bool {
        guard index >= buffer.readerIndex, buffer.writerIndex - index >= RecordBatchLayout.headerSize else {
            return false
        }
        buffer.setInteger(baseOffset, at: index + RecordBatchLayout.baseOffset)
        buffer.setInteger(partitionLeaderEpoch, at: index + RecordBatchLayout.partitionLeaderEpoch)
        return true
    }

    /// Marks the batch at absolute `index` as LogAppendTime with `timestamp` as its maxTimestamp, then
    /// recomputes the CRC. Throws when the batch is not whole in the buffer.
    public static func setLogAppendTime(_ timestamp: Int64, in buffer: inout ByteBuffer, at index: Int)
        throws(RecordBatchError) {
        let batch = try RecordBatch.cut(from: buffer, at: index, position: index - buffer.readerIndex)
        let attributes = batch.header.attributes | 0x08
        buffer.setInteger(attributes, at: index + RecordBatchLayout.attributes)
        buffer.setInteger(timestamp, at: index + RecordBatchLayout.maxTimestamp)
        updateCRC(in: &buffer, at: index, totalSize: batch.sizeInBytes)
    }

    /// Sets maxTimestamp (keeping the timestamp type) and recomputes the CRC.
    public static func setMaxTimestamp(_ timestamp: Int64, in buffer: inout ByteBuffer, at index: Int)
        throws(RecordBatchError) {
        let batch = try RecordBatch.cut(from: buffer, at: index, position: index - buffer.readerIndex)
        buffer.setInteger(timestamp, at: index + RecordBatchLayout.maxTimestamp)
        updateCRC(in: &buffer, at: index, totalSize: batch.sizeInBytes)
    }

    /// Recomputes and stores the CRC of the batch of `totalSize` bytes at absolute `index`.
    public static func updateCRC(in buffer: inout ByteBuffer, at index: Int, totalSize: Int) {
        let crc = CRC32C.checksum(of: buffer, at: index + RecordBatchLayout.attributes,
                                  length: totalSize - RecordBatchLayout.attributes) ?? 0
        buffer.setInteger(crc, at: index + RecordBatchLayout.crc)
    }

    /// Assigns offsets to every batch of a validated `records` buffer, starting at `firstOffset` (the log end
    /// offset), and stamps `partitionLeaderEpoch`; with `logAppendTime` also sets LogAppendTime on each.
    /// Returns the next offset (the new log end offset).
    public static func assignOffsets(in buffer: inout ByteBuffer, firstOffset: Int64, partitionLeaderEpoch: Int32,
                                     logAppendTime: Int64? = nil) throws(RecordBatchError) -> Int64 {
        var index = buffer.readerIndex
        var nextOffset = firstOffset
        while index < buffer.writerIndex {
            let batch = try RecordBatch.cut(from: buffer, at: index, position: index - buffer.readerIndex)
            setBaseOffset(nextOffset, partitionLeaderEpoch: partitionLeaderEpoch, in: &buffer, at: index)
            if let logAppendTime { try setLogAppendTime(logAppendTime, in: &buffer, at: index) }
            nextOffset += Int64(batch.header.lastOffsetDelta) + 1
            index += batch.sizeInBytes
        }
        return nextOffset
    }
}
