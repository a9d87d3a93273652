// Producer settings, under Kafka's names: acks, linger.ms, batch.size, compression.type, idempotence...
import KafkaRecords

/// Kafka's `acks`.
public enum Acks: Int16, Sendable, Codable {
    /// Fire and forget: the broker sends no response.
    case none = 0
    /// The leader wrote the batch.
    case leader = 1
    /// Every in-sync replica has the batch.
    case all = -1

    /// Parses `0`, `1`, `all`/`-1`.
    public init?(name: String) {
        switch name.lowercased() {
        case "0", "none": self = .none
        case "1", "leader": self = .leader
        case "all", "-1": self = .all
        default: return nil
        }
    }
}

/// Settings of a `KafkaProducer`. Defaults follow the Java client (Kafka 4.x).
public struct ProducerConfiguration: Sendable {
    /// `acks` (default all).
    public var acks: Acks = .all
    /// `linger.ms`: how long a batch waits for more records before it is sent (default 5 ms).
    public var linger: Duration = .milliseconds(5)
    /// `batch.size`: a batch is sent once its records take this many bytes (default 16 KiB).
    public var batchSize: Int = 16_384
    /// `compression.type` (default none).
    public var compression: CompressionCodec = .none
    /// `enable.idempotence` (default true; needs acks=all).
    public var enableIdempotence = true
    /// `delivery.timeout.ms`: after this long since a record was handed over, it fails (default 120 s).
    public var deliveryTimeout: Duration = .seconds(120)
    /// `retries`: how many times a failed batch is resent (bounded by the delivery timeout).
    public var retries: Int = Int.max
    /// `retry.backoff.ms`: the pause before a resend (default 100 ms, doubling up to 1 s).
    public var retryBackoff: Duration = .milliseconds(100)
    /// `max.in.flight.requests.per.connection`, applied per partition (default 5; at most 5 with idempotence).
    public var maxInFlightPerPartition: Int = 5
    /// librdkafka's `sticky.partitioning.linger.ms`: null-key records stay on their partition at least
    /// this long, across batches (default zero: move on with every closed batch, as the Java client).
    public var stickyPartitioningLinger: Duration = .zero
    /// `buffer.memory`: bytes of records waiting to be sent before `produce` waits (default 32 MiB).
    public var bufferMemory: Int = 32 << 20
    /// `max.request.size`: a record larger than this fails at once with MESSAGE_TOO_LARGE (default 1 MiB).
    public var maxRequestSize: Int = 1_048_576
    /// `request.timeout.ms` sent as the Produce timeout (default 30 s).
    public var requestTimeoutMilliseconds: Int32 = 30_000

    /// The Java client's defaults.
    public init() {}

    /// Checks combinations Kafka rejects too.
    public func validate() throws(KafkaClientError) {
        if enableIdempotence && acks != .all {
            throw .invalidArgument("idempotence needs acks=all (disable idempotence to use acks=\(acks.rawValue))")
        }
        guard batchSize > 0 else { throw .invalidArgument("batch.size must be positive") }
        guard maxInFlightPerPartition >= 1 else { throw .invalidArgument("max.in.flight must be at least 1") }
        if enableIdempotence && maxInFlightPerPartition > 5 {
            throw .invalidArgument("idempotence allows at most 5 requests in flight per partition")
        }
    }
}
