// CompactionFilter: record-level work of the cleaner on one uncompressed batch — listing its records'
// keys, and rebuilding the batch with only the retained records (copied verbatim: base offset, base
// timestamp and last offset delta are kept, so every record's deltas stay valid; only the count,
// length and CRC change).
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
            index += 1
            guard let timestampDelta = RecordScan.readVarint(batch, &index),
                  let offsetDelta = RecordScan.readVarint(batch, &index),
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
                                    isTombstone: valueLength < 0, start: recordStart, end: recordEnd))
            index = recordEnd
        }
        return slots
    }

    /// A copy of the batch holding only `kept` records (in order), with a fresh length, count and CRC.
    static func rebuild(_ batch: ByteBuffer, at start: Int, header: RecordBatchHeader, keeping kept: [RecordSlot]) -> ByteBuffer {
        let recordBytes = kept.reduce(0) { $0 + ($1.end - $1.start) }
        var out = ByteBufferAllocator().buffer(capacity: RecordBatchLayout.headerSize + recordBytes)
        out.writeBytes(batch.getBytes(at: start, length: RecordBatchLayout.headerSize) ?? [])
        for slot in kept {
            out.writeBytes(batch.viewBytes(at: slot.start, length: slot.end - slot.start) ?? ByteBufferView())
        }
        out.setInteger(Int32(out.readableBytes - RecordBatchLayout.logOverhead), at: RecordBatchLayout.batchLength)
        out.setInteger(Int32(kept.count), at: RecordBatchLayout.recordsCount)
        let crc = CRC32C.checksum(of: out, at: RecordBatchLayout.attributes, length: out.readableBytes - RecordBatchLayout.attributes) ?? 0
        out.setInteger(crc, at: RecordBatchLayout.crc)
        return out
    }
}
