// StorageError: every failure the storage engine reports. Storage knows no wire error numbers: the
// broker maps each case to a Kafka error code (the codes in the case comments are what it sends).

/// A typed storage failure.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The requested offset lies outside [log start offset, log end offset] (OFFSET_OUT_OF_RANGE, 1).
    case offsetOutOfRange(requested: Int64, logStartOffset: Int64, logEndOffset: Int64)
    /// The appended bytes are not well-formed magic-v2 record batches (CORRUPT_MESSAGE, 2).
    case corruptMessage(String)
    /// A batch is larger than `max.message.bytes` (MESSAGE_TOO_LARGE, 10).
    case messageTooLarge(size: Int, limit: Int)
    /// The batches of one append are larger than a segment (`segment.bytes`) can hold
    /// (RECORD_LIST_TOO_LARGE, 18 — Kafka's RecordBatchTooLargeException).
    case recordListTooLarge(size: Int, limit: Int)
    /// A batch breaks a rule of the log (INVALID_RECORD, 87), e.g. a replicated batch behind the log end.
    case invalidRecord(String)
    /// The producer's sequence does not follow its last one (OUT_OF_ORDER_SEQUENCE_NUMBER, 45).
    case outOfOrderSequence(producerId: Int64, expected: Int32, received: Int32)
    /// The producer's epoch is older than the one the log knows (INVALID_PRODUCER_EPOCH, 47).
    case invalidProducerEpoch(producerId: Int64, current: Int16, received: Int16)
    /// A transaction marker from a coordinator epoch older than the one that last wrote a marker for the
    /// producer in this partition: a deposed coordinator (TRANSACTION_COORDINATOR_FENCED, 52).
    case transactionCoordinatorFenced(producerId: Int64, current: Int32, received: Int32)
    /// A transactional batch outside a transaction the coordinator verified, or a non-transactional batch
    /// from a producer with an open transaction (INVALID_TXN_STATE, 48).
    case invalidTxnState(producerId: Int64, reason: String)
    /// A file operation failed (KAFKA_STORAGE_ERROR, 56).
    case io(operation: String, path: String, errno: Int32)
    /// The log directory holding this partition is offline after persistent I/O errors (KAFKA_STORAGE_ERROR, 56).
    case logDirOffline(path: String)
    /// The partition was taken offline, e.g. a corrupt file at open or a failed write being rolled back (56).
    case partitionOffline(String)
    /// No such partition on this broker (UNKNOWN_TOPIC_OR_PARTITION, 3).
    case unknownTopicOrPartition(topic: String, partition: Int32)
    /// The partition already exists (TOPIC_ALREADY_EXISTS, 36).
    case logAlreadyExists(topic: String, partition: Int32)
    /// A configuration value is out of range (INVALID_CONFIG, 40).
    case invalidConfig(String)

    /// EIO, for failures reported without an errno of their own.
    static let eio: Int32 = 5

    /// A one-line description for logs and error messages.
    public var description: String {
        switch self {
        case let .offsetOutOfRange(requested, start, end):
            "offset \(requested) is out of range [\(start), \(end)]"
        case let .corruptMessage(reason): "corrupt record batch: \(reason)"
        case let .messageTooLarge(size, limit): "batch of \(size) bytes exceeds the limit of \(limit) bytes"
        case let .recordListTooLarge(size, limit):
            "record batches of \(size) bytes exceed the segment size of \(limit) bytes"
        case let .invalidRecord(reason): "invalid record: \(reason)"
        case let .outOfOrderSequence(pid, expected, received):
            "producer \(pid): out of order sequence \(received), expected \(expected)"
        case let .invalidProducerEpoch(pid, current, received):
            "producer \(pid): epoch \(received) is older than the current epoch \(current)"
        case let .transactionCoordinatorFenced(pid, current, received):
            "producer \(pid): marker from coordinator epoch \(received) is older than coordinator epoch \(current)"
        case let .invalidTxnState(pid, reason): "producer \(pid): \(reason)"
        case let .io(operation, path, errno): "\(operation) \(path) failed: \(describeErrno(errno)) (errno \(errno))"
        case let .logDirOffline(path): "log directory \(path) is offline"
        case let .partitionOffline(reason): "partition offline: \(reason)"
        case let .unknownTopicOrPartition(topic, partition): "no log for \(topic)-\(partition)"
        case let .logAlreadyExists(topic, partition): "a log for \(topic)-\(partition) already exists"
        case let .invalidConfig(reason): "invalid log configuration: \(reason)"
        }
    }
}
