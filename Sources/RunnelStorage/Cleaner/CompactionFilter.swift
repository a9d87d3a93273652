// CompactionFilter: record-level work of the cleaner on one uncompressed batch — listing its records'
// keys, and rebuilding the batch with only the retained records (copied verbatim: base offset and last
// offset delta are kept, so every record's offset delta stays valid; the count, length and CRC change,
// and when a delete horizon is stamped the timestamp deltas are re-based on it).
import KafkaProtocol
import KafkaRecords
import NIOCore

/// One record of a batch, located in the batch's bytes.
struct RecordSlot {
    var offset: Int64
    var timestamp: Int64
    /// nil for a null key.
    var key: [UInt8]?
    var isTombstone: Bool
    /// Byte range of the whole record (length prefix included), relative to the buffer's storage.
    var start: Int
    var end: Int
    /// Where the attributes byte is (just after the length prefix) and where the fields after the
    /// timestamp delta begin: a record is re-based onto a new base timestamp by rewriting what lies between.
    var attributesAt: Int
    var afterTimestampDelta: Int
}

enum CompactionFilter {
    /// The records of an uncompressed batch at `start` of `batch`; nil when malformed.
    static func records(in batch: ByteBuffer, at start: Int, header: RecordBatchHeader) -> [RecordSlot]? {
        var slots: [RecordSlot] = []
        var index = start + RecordBatchLayout.headerSize
        let end = start + header.totalSize
        for _ in 0..<max(Int(header.recordsCount), 0) {
            let recordStart = index
            guard let length = RecordScan.readVarint(batch, &index), length >= 0 else { return nil }
            let recordEnd = index + Int(length)
            guard recordEnd <= end else { return nil }
            let attributesAt = index
            index += 1
            guard let timestampDelta = RecordScan.readVarint(batch, &index) else { return nil }
            let afterTimestampDelta = index
            guard let offsetDelta = RecordScan.readVarint(batch, &index),
                  let keyLength = RecordScan.readVarint(batch, &index) else { return nil }
            var key: [UInt8]?
            if keyLength >= 0 {
                guard let bytes = batch.getBytes(at: index, length: Int(keyLength)) else { return nil }
                key = bytes
                index += Int(keyLength)
            }
            guard let valueLength = RecordScan.readVarint(batch, &index) else { return nil }
            let timestamp = header.timestampType == .logAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta
            slots.append(RecordSlot(offset: header.baseOffset + offsetDelta, timestamp: timestamp, key: key,
                                    isTombstone: valueLength < 0, start: recordStart, end: recordEnd,
                                    attributesAt: attributesAt, afterTimestampDelta: afterTimestampDelta))
            index = recordEnd
        }
        return slots
    }

    /// A copy of the batch holding only `kept` records (in order), with a fresh length, count and CRC.
    /// With `deleteHorizonMs` the batch is marked as carrying a delete horizon (attribute bit 6): like Kafka,
    /// the horizon takes the base timestamp's place and every record's timestamp delta is re-based on it,
    /// so record timestamps are unchanged.
    static func rebuild(_ batch: ByteBuffer, at start: Int, header: RecordBatchHeader, keeping kept: [RecordSlot],
                        deleteHorizonMs: Int64? = nil) -> ByteBuffer {
        let recordBytes = kept.reduce(0) { $0 + ($1.end - $1.start) }
        var out = ByteBufferAllocator().buffer(capacity: RecordBatchLayout.headerSize + recordBytes + kept.count * 8)
        out.writeBytes(batch.viewBytes(at: start, length: RecordBatchLayout.headerSize) ?? ByteBufferView())
        for slot in kept {
            guard let horizon = deleteHorizonMs, header.timestampType == .createTime else {
                out.writeBytes(batch.viewBytes(at: slot.start, length: slot.end - slot.start) ?? ByteBufferView())
                continue
            }
            var delta = ByteBufferAllocator().buffer(capacity: 10)
            delta.writeVarlong(slot.timestamp &- horizon)
            let rest = slot.end - slot.afterTimestampDelta
            out.writeVarlong(Int64(1 + delta.readableBytes + rest))
            out.writeInteger(batch.getInteger(at: slot.attributesAt, as: UInt8.self) ?? 0)
            out.writeImmutableBuffer(delta)
            out.writeBytes(batch.viewBytes(at: slot.afterTimestampDelta, length: rest) ?? ByteBufferView())
        }
        if let horizon = deleteHorizonMs {
            out.setInteger(header.attributes | RecordBatchLayout.deleteHorizonFlag, at: RecordBatchLayout.attributes)
            out.setInteger(horizon, at: RecordBatchLayout.baseTimestamp)
        }
        out.setInteger(Int32(out.readableBytes - RecordBatchLayout.logOverhead), at: RecordBatchLayout.batchLength)
        out.setInteger(Int32(kept.count), at: RecordBatchLayout.recordsCount)
        RecordBatchRewriter.updateCRC(in: &out, at: out.readerIndex, totalSize: out.readableBytes)
        return out
    }
}

extension RecordBatchLayout {
    /// Attribute bit 6: the base timestamp holds the batch's delete horizon (KIP-534).
    static let deleteHorizonFlag: Int16 = 0x40
}
