// A record to produce, and what the producer reports once it was delivered.
import KafkaRecords
import NIOCore

/// A record handed to `KafkaProducer`.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// An explicit partition, or nil to let the partitioner choose.
    public var partition: Int32?
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [RecordHeader]
    /// Create time in ms since the epoch, or nil for now.
    public var timestamp: Int64?

    public init(topic: String, partition: Int32? = nil, key: ByteBuffer? = nil, value: ByteBuffer?,
                headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// Convenience for text keys and values.
    public init(topic: String, partition: Int32? = nil, key: String?, value: String?,
                headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.init(topic: topic, partition: partition, key: key.map { ByteBuffer(string: $0) },
                  value: value.map { ByteBuffer(string: $0) }, headers: headers, timestamp: timestamp)
    }

    /// Bytes the record takes in a batch, roughly (for batch.size and buffer.memory accounting).
    var estimatedSize: Int {
        var size = 21 + (key?.readableBytes ?? 0) + (value?.readableBytes ?? 0)
        for header in headers { size += 10 + header.key.utf8.count + (header.value?.readableBytes ?? 0) }
        return size
    }
}

/// Where a record was written.
public struct RecordMetadata: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    /// The record's offset, or -1 when unknown (acks=0, or a duplicate the broker had already written).
    public var offset: Int64
    /// Create time, or the log append time when the topic uses LogAppendTime.
    public var timestamp: Int64
}

/// The outcome of one record: where it was written or why it was not.
public typealias DeliveryResult = Result<RecordMetadata, KafkaClientError>
