// Errors of the metadata store, each naming the Kafka error a client would see.
import KafkaProtocol

/// Failure of a metadata operation; `errorCode` is what the broker answers.
public enum MetadataStoreError: Error, Sendable, CustomStringConvertible {
    case topicAlreadyExists(String)
    case unknownTopic(String)
    case invalidTopicName(String, reason: String)
    case invalidPartitions(String, reason: String)
    case invalidReplicationFactor(String, reason: String)
    case storage(path: String, reason: String)
    case corrupt(path: String, reason: String)

    public var errorCode: ErrorCode {
        switch self {
        case .topicAlreadyExists: .topicAlreadyExists
        case .unknownTopic: .unknownTopicOrPartition
        case .invalidTopicName: .invalidTopicException
        case .invalidPartitions: .invalidPartitions
        case .invalidReplicationFactor: .invalidReplicationFactor
        case .storage, .corrupt: .kafkaStorageError
        }
    }

    public var description: String {
        switch self {
        case .topicAlreadyExists(let t): "Topic '\(t)' already exists."
        case .unknownTopic(let t): "Topic '\(t)' does not exist."
        case .invalidTopicName(_, let reason): reason
        case .invalidPartitions(_, let reason): reason
        case .invalidReplicationFactor(_, let reason): reason
        case .storage(let path, let reason): "Metadata store at \(path) failed: \(reason)"
        case .corrupt(let path, let reason): "Metadata file \(path) is corrupt: \(reason)"
        }
    }
}
