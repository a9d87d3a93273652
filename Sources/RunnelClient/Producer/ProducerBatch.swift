// Records accumulated for one partition: an open batch being filled, or a closed one waiting to be sent.
import KafkaProtocol
import KafkaRecords
import NIOCore

/// The completion of one record in a batch.
typealias DeliveryCallback = @Sendable (DeliveryResult) -> Void

/// Whom to tell about one record: its own callback, or a callback shared by the records handed over in
/// one `produce(contentsOf:)` call with the record's index there (no closure allocated per record).
enum DeliverySink: Sendable {
    case record(DeliveryCallback)
    case indexed(@Sendable (Int, DeliveryResult) -> Void, Int)

    func callAsFunction(_ result: DeliveryResult) {
        switch self {
        case .record(let callback): callback(result)
        case .indexed(let callback, let index): callback(index, result)
        }
    }
}

/// A batch of records for one partition. Open while records are appended; closed (given its sequence
/// number) before it is sent; built into wire bytes as it is sent, identically on a retry.
struct ProducerBatch: Sendable {
    let topicPartition: TopicPartition
    var builder: RecordBatchBuilder
    /// Who is told about each record, in offset order.
    var callbacks: [DeliverySink] = []
    /// Create timestamps of the records (to report them back), in offset order.
    var timestamps: [Int64] = []
    /// Bytes counted against buffer.memory.
    var accountedBytes = 0
    /// When the first record was appended (linger and delivery timeout start here).
    let createdAt: ContinuousClock.Instant
    var attempts = 0
    /// Identifies the batch to its linger timer.
    let id: UInt64

    init(topicPartition: TopicPartition, compression: CompressionCodec, capacity: Int, id: UInt64) {
        self.topicPartition = topicPartition
        builder = RecordBatchBuilder(compression: compression, initialCapacity: capacity)
        createdAt = .now
        self.id = id
    }

    var recordCount: Int { callbacks.count }
    var baseSequence: Int32 { builder.baseSequence }

    mutating func append(_ record: ProducerRecord, timestamp: Int64, size: Int, callback: DeliverySink) {
        builder.append(key: record.key, value: record.value, headers: record.headers, timestamp: timestamp)
        callbacks.append(callback)
        timestamps.append(timestamp)
        accountedBytes += size
    }

    /// Appends a record reported to its own callback.
    mutating func append(_ record: ProducerRecord, timestamp: Int64, size: Int,
                         callback: @escaping DeliveryCallback) {
        append(record, timestamp: timestamp, size: size, callback: DeliverySink.record(callback))
    }

    /// Closes the batch to appends, with the producer id, epoch and base sequence it is sent with.
    mutating func close(producerId: Int64, producerEpoch: Int16, baseSequence: Int32) {
        builder.producerId = producerId
        builder.producerEpoch = producerEpoch
        builder.baseSequence = baseSequence
    }

    /// The wire bytes (compressed when configured), built when the batch is sent: on the connection's
    /// event loop, not on the producer, and again byte for byte on a retry.
    func build() throws(RecordBatchError) -> ByteBuffer {
        try builder.build()
    }

    /// Changes the base sequence the batch is sent with: after a batch before it failed, the broker
    /// expects the sequence the failed batch had.
    mutating func restamp(sequence: Int32) {
        builder.baseSequence = sequence
    }

    /// Completes every record with its offset (`baseOffset` + index), or -1 when unknown.
    func succeed(baseOffset: Int64, logAppendTime: Int64) {
        for (index, callback) in callbacks.enumerated() {
            let offset = baseOffset >= 0 ? baseOffset + Int64(index) : -1
            let timestamp = logAppendTime >= 0 ? logAppendTime : timestamps[index]
            callback(.success(RecordMetadata(topic: topicPartition.topic, partition: topicPartition.partition,
                                             offset: offset, timestamp: timestamp)))
        }
    }

    /// Fails every record of the batch with `error`.
    func fail(_ error: KafkaClientError) {
        for callback in callbacks { callback(.failure(error)) }
    }
}
