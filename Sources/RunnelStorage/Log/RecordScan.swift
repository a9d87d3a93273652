// RecordScan: the few record-level reads the log needs without a full record decoder — the timestamp
// and offset of each record of a batch (in place when uncompressed, through KafkaRecords' bounded
// decompression otherwise), and the control record type of a marker batch.
import KafkaRecords
import NIOCore

enum RecordScan {
    /// Reads a zigzag varint (up to 64 bits) at `index`; advances it. Nil when truncated or too long.
    static func readVarint(_ buffer: ByteBuffer, _ index: inout Int) -> Int64? {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 64 {
            guard let byte = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))) }
            shift += 7
        }
        return nil
    }

    /// The first record at offset ≥ `minOffset` whose timestamp is ≥ `target`, in an uncompressed batch
    /// whose bytes start at `start` of `batch`. Nil when no record qualifies or the records are malformed.
    static func firstRecord(in batch: ByteBuffer, at start: Int, header: RecordBatchHeader, timestampAtLeast target: Int64,
                            offsetAtLeast minOffset: Int64) -> (offset: Int64, timestamp: Int64)? {
        if header.timestampType == .logAppendTime {
            return header.maxTimestamp >= target ? (max(header.baseOffset, minOffset), header.maxTimestamp) : nil
        }
        var index = start + RecordBatchLayout.headerSize
        let end = start + header.totalSize
        var remaining = Int(header.recordsCount)
        while remaining > 0 && index < end {
            guard let length = readVarint(batch, &index), length >= 0 else { return nil }
            let recordEnd = index + Int(length)
            guard recordEnd <= end else { return nil }
            index += 1  // attributes
            guard let timestampDelta = readVarint(batch, &index), let offsetDelta = readVarint(batch, &index) else { return nil }
            let timestamp = header.baseTimestamp &+ timestampDelta
            let offset = header.baseOffset + offsetDelta
            if timestamp >= target && offset >= minOffset { return (offset, timestamp) }
            index = recordEnd
            remaining -= 1
        }
        return nil
    }

    /// Bound on the decompressed records of one batch read for a timestamp lookup.
    static let maxDecompressedBytes = RecordBatch.defaultMaxDecompressedBytes

    /// `firstRecord` for a compressed batch (`bytes` is exactly the batch): decompresses its records, at most
    /// `maxDecompressedBytes`. Nil when no record qualifies or the batch cannot be decoded.
    static func firstRecordDecompressing(_ bytes: ByteBuffer, timestampAtLeast target: Int64,
                                         offsetAtLeast minOffset: Int64) -> (offset: Int64, timestamp: Int64)? {
        do {
            let batch = try RecordBatch(bytes)
            var records = try batch.makeRecordIterator(maxDecompressedBytes: maxDecompressedBytes)
            while let record = try records.next() {
                if record.timestamp >= target && record.offset >= minOffset { return (record.offset, record.timestamp) }
            }
        } catch {
            return nil
        }
        return nil
    }

    /// The transaction marker (commit or abort, and the coordinator epoch from its value) of a control
    /// batch starting at `start`; nil when unreadable or not a transaction marker. The coordinator epoch
    /// is nil when the value is unreadable.
    static func marker(in batch: ByteBuffer, at start: Int, header: RecordBatchHeader) -> TransactionMarkerScan? {
        guard header.isControl, header.compression == CompressionCodec.none else { return nil }
        var index = start + RecordBatchLayout.headerSize
        guard readVarint(batch, &index) != nil else { return nil }
        index += 1
        guard readVarint(batch, &index) != nil, readVarint(batch, &index) != nil,
              let keyLength = readVarint(batch, &index), keyLength >= 4, keyLength <= Int64(header.totalSize),
              let type = batch.getInteger(at: index + 2, as: Int16.self) else { return nil }
        // Only transaction markers end a transaction; other control records (KRaft's) are not markers.
        guard let control = ControlRecordType(rawValue: type), control == .abort || control == .commit else { return nil }
        index += Int(keyLength)
        var coordinatorEpoch: Int32?
        if let valueLength = readVarint(batch, &index), valueLength >= 6 {
            coordinatorEpoch = batch.getInteger(at: index + 2, as: Int32.self)
        }
        return TransactionMarkerScan(type: control, coordinatorEpoch: coordinatorEpoch)
    }
}

/// A transaction marker as the log reads it from a control batch.
struct TransactionMarkerScan: Sendable, Equatable {
    /// Commit or abort.
    var type: ControlRecordType
    /// The epoch of the transaction coordinator that wrote it (nil when its value is unreadable).
    var coordinatorEpoch: Int32?
}
