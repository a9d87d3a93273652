// StorageErrorCode: the one place a storage failure becomes a Kafka error code. Storage reports what
// went wrong in its own terms; which wire number a client sees is the broker's decision.
import KafkaProtocol
import RunnelStorage

extension ErrorCode {
    /// The Kafka error code a client receives for a storage failure.
    init(_ error: StorageError) {
        switch error {
        case .offsetOutOfRange: self = .offsetOutOfRange
        case .corruptMessage: self = .corruptMessage
        case .messageTooLarge: self = .messageTooLarge
        // Kafka's RecordBatchTooLargeException: the append does not fit in a segment.
        case .recordListTooLarge: self = .recordListTooLarge
        case .invalidRecord: self = .invalidRecord
        case .outOfOrderSequence: self = .outOfOrderSequenceNumber
        case .invalidProducerEpoch: self = .invalidProducerEpoch
        case .transactionCoordinatorFenced: self = .transactionCoordinatorFenced
        case .invalidTxnState: self = .invalidTxnState
        case .io, .logDirOffline, .partitionOffline: self = .kafkaStorageError
        case .unknownTopicOrPartition: self = .unknownTopicOrPartition
        case .logAlreadyExists: self = .topicAlreadyExists
        case .invalidConfig: self = .invalidConfig
        }
    }
}
