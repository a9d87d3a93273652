// Errors of the metadata store, each naming the Kafka error a client would see.
import KafkaProtocol
import RunnelEtcd

/// Failure of a metadata operation; `errorCode` is what the broker answers.
public enum MetadataStoreError: Error, Sendable, CustomStringConvertible {
    case topicAlreadyExists(String)
    case unknownTopic(String)
    case unknownPartition(TopicPartition)
    case invalidTopicName(String, reason: String)
    case invalidPartitions(String, reason: String)
    case invalidReplicationFactor(String, reason: String)
    case invalidReplicaAssignment(String, reason: String)
    case storage(path: String, reason: String)
    case corrupt(path: String, reason: String)
    /// The compare-and-swap lost: the partition's epoch is no longer the one expected.
    case stalePartitionEpoch(TopicPartition, expected: Int32, current: Int32)
    /// The write's authority is gone (`MetadataWriteFencing`): this broker's session or controllership.
    case fenced(String)
    /// The store could not be reached or did not answer in time; the change may not be applied.
    case unavailable(EtcdError)
    /// Another writer kept changing the same record; the change was not applied.
    case contention(String)
    /// A `writeRecords` condition failed: the record is not at the expected version (nil: absent).
    case recordVersionMismatch(ClusterRecordKind, key: String, expected: Int64, current: Int64?)
    /// A record write was refused before reaching the store (bad kind, key, size, batch).
    case invalidRecord(String)
    /// A record in the store cannot be decoded.
    case corruptRecord(key: String, reason: String)
    /// Startup was refused (for example this node id is registered by another live broker).
    case registrationFailed(String)
    /// The store was shut down.
    case shutDown

    public var errorCode: ErrorCode {
        switch self {
        case .topicAlreadyExists: .topicAlreadyExists
        case .unknownTopic, .unknownPartition: .unknownTopicOrPartition
        case .invalidTopicName: .invalidTopicException
        case .invalidPartitions: .invalidPartitions
        case .invalidReplicationFactor: .invalidReplicationFactor
        case .invalidReplicaAssignment: .invalidReplicaAssignment
        case .storage, .corrupt, .corruptRecord: .kafkaStorageError
        case .stalePartitionEpoch, .recordVersionMismatch: .invalidUpdateVersion
        case .invalidRecord: .invalidRequest
        case .fenced: .staleBrokerEpoch
        case .unavailable, .contention, .shutDown: .requestTimedOut
        case .registrationFailed: .duplicateBrokerRegistration
        }
    }

    public var description: String {
        switch self {
        case .topicAlreadyExists(let t): "Topic '\(t)' already exists."
        case .unknownTopic(let t): "Topic '\(t)' does not exist."
        case .unknownPartition(let p): "Partition \(p) does not exist."
        case .invalidTopicName(_, let reason): reason
        case .invalidPartitions(_, let reason): reason
        case .invalidReplicationFactor(_, let reason): reason
        case .invalidReplicaAssignment(_, let reason): reason
        case .storage(let path, let reason): "Metadata store at \(path) failed: \(reason)"
        case .corrupt(let path, let reason): "Metadata file \(path) is corrupt: \(reason)"
        case .stalePartitionEpoch(let p, let expected, let current):
            "Partition \(p) changed concurrently: expected partition epoch \(expected), the store has \(current)."
        case .recordVersionMismatch(let kind, let key, let expected, let current):
            "Record \(kind)/\(key) changed concurrently: expected "
                + (expected == 0 ? "no record" : "version \(expected)") + ", the store has "
                + (current.map { "version \($0)" } ?? "no record") + "."
        case .invalidRecord(let reason): "Invalid record write: \(reason)."
        case .fenced(let reason): "Metadata write refused: \(reason)."
        case .unavailable(let error): "Cluster metadata is unavailable, the change was not applied (or may not be): \(error)"
        case .contention(let what): "\(what) kept changing concurrently; retry."
        case .corruptRecord(let key, let reason): "Metadata record \(key) cannot be read: \(reason)"
        case .registrationFailed(let reason): "Broker registration failed: \(reason)"
        case .shutDown: "The metadata store is shut down."
        }
    }
}
