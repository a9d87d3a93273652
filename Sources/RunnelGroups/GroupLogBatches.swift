// GroupLogBatches: the bridge between `GroupLogRecord`s and the record batches a `__consumer_offsets`
// partition log stores, for a `GroupLogStore` built on the real partition logs.
import KafkaRecords
import NIOCore

/// Builds and reads `__consumer_offsets` record batches.
public enum GroupLogBatches {
    /// One uncompressed batch holding `records` in order (base offset 0: the log assigns offsets).
    public static func batch(_ records: [GroupLogRecord], timestampMs: Int64) throws(RecordBatchError) -> ByteBuffer {
        var builder = RecordBatchBuilder(initialCapacity: records.reduce(128) {
            $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + 16
        })
        for record in records {
            builder.append(key: record.key, value: record.value, timestamp: timestampMs)
        }
        return try builder.build()
    }

    /// The keyed records of `bytes` (whole batches, as read from the log), oldest first. Control batches,
    /// batches failing their CRC and records without a key are skipped; reading stops at a truncated batch.
    public static func records(from bytes: ByteBuffer) -> [GroupLogRecord] {
        var result: [GroupLogRecord] = []
        var iterator = MemoryRecords(bytes).makeIterator()
        while let batch = iterator.next() {
            guard !batch.isControl, batch.isCRCValid, let records = try? batch.records() else { continue }
            for record in records {
                guard let key = record.key else { continue }
                result.append(GroupLogRecord(key: key, value: record.value))
            }
        }
        return result
    }
}
