// GroupLogBatches: the bridge between `GroupLogRecord`s and the record batches a `__consumer_offsets`
// partition log stores, for a `GroupLogStore` built on the real partition logs.
import KafkaRecords
import NIOCore

/// Builds and reads `__consumer_offsets` record batches.
public enum GroupLogBatches {
    /// One uncompressed batch holding `records` in order (base offset 0: the log assigns offsets). With a
    /// `producer`, the batch is transactional: that producer's id and epoch, the transactional attribute and
    /// base sequence 0, as Kafka's coordinator writes a TxnOffsetCommit (sequences of coordinator appends
    /// are not checked).
    public static func batch(_ records: [GroupLogRecord], timestampMs: Int64,
                             producer: GroupLogProducer? = nil) throws(RecordBatchError) -> ByteBuffer {
        var builder = RecordBatchBuilder(
            producerId: producer?.producerId ?? -1, producerEpoch: producer?.producerEpoch ?? -1,
            baseSequence: producer == nil ? -1 : 0, isTransactional: producer != nil,
            initialCapacity: records.reduce(128) { $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + 16 })
        for record in records {
            builder.append(key: record.key, value: record.value, timestamp: timestampMs)
        }
        return try builder.build()
    }

    /// The keyed records of `bytes` (whole batches, as read from the log), oldest first. Control batches,
    /// batches failing their CRC and records without a key are skipped; reading stops at a truncated batch.
    public static func records(from bytes: ByteBuffer) -> [GroupLogRecord] {
        entries(from: bytes).compactMap(\.record)
    }

    /// The entries of `bytes` (whole batches, as read from the log), oldest first: keyed data records with
    /// their producer when the batch is transactional, and transaction markers. Batches failing their CRC,
    /// records without a key and control records other than COMMIT/ABORT are skipped; reading stops at a
    /// truncated batch.
    public static func entries(from bytes: ByteBuffer) -> [GroupLogEntry] {
        var result: [GroupLogEntry] = []
        var iterator = MemoryRecords(bytes).makeIterator()
        while let batch = iterator.next() {
            guard batch.isCRCValid, let entries = try? entries(of: batch) else { continue }
            result.append(contentsOf: entries)
        }
        return result
    }

    /// The entries of one batch whose records are at `fromOffset` or later (a read may start inside a
    /// batch). A control batch yields its COMMIT/ABORT marker; a data batch its keyed records, with the
    /// batch's producer id when it is transactional.
    public static func entries(of batch: RecordBatch, fromOffset: Int64 = 0) throws(RecordBatchError) -> [GroupLogEntry] {
        var result: [GroupLogEntry] = []
        let records = try batch.records()
        if batch.isControl {
            for record in records where record.offset >= fromOffset {
                guard let marker = try EndTransactionMarker(controlRecord: record) else { continue }
                result.append(.transactionMarker(producerId: batch.producerId, producerEpoch: batch.producerEpoch,
                                                 commit: marker.type == .commit))
            }
            return result
        }
        let producerId: Int64? = batch.isTransactional ? batch.producerId : nil
        for record in records where record.offset >= fromOffset {
            guard let key = record.key else { continue }
            result.append(.record(GroupLogRecord(key: key, value: record.value), producerId: producerId))
        }
        return result
    }
}
