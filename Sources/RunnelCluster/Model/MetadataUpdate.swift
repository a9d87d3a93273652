// MetadataUpdate: the changes of one store revision, delivered to subscribers in revision order.
import KafkaProtocol

/// One change a broker applies to its own state.
public enum MetadataChange: Sendable, Equatable {
    /// A broker registered (or re-registered with a new broker epoch).
    case brokerRegistered(BrokerRegistration)
    /// A broker's registration disappeared (lease expired or revoked).
    case brokerUnregistered(nodeId: Int32)
    /// A new controller was elected, or (nil) the controller key is vacant.
    case controllerChanged(ControllerInfo?)
    /// A topic was created, with the initial state of its partitions.
    case topicCreated(TopicImage)
    /// A topic's configs or partition count changed (new partitions come with their initial state).
    case topicChanged(TopicImage)
    /// A topic was deleted.
    case topicDeleted(TopicMetadata)
    /// A partition's leader, ISR or replicas changed.
    case partitionChanged(TopicPartition, PartitionState)
    /// A cluster record was created or replaced, or (nil) deleted.
    case recordChanged(ClusterRecordKind, key: String, record: ClusterRecord?)
    /// This broker's own registration state changed (`.lost`: stop acting as leader or controller now).
    case registrationChanged(RegistrationState)
    /// The store reloaded everything (its watch history was compacted): re-read the whole image.
    case reloaded
}

/// The changes of one revision, and the image after them.
public struct MetadataUpdate: Sendable, Equatable {
    /// The store revision the changes happened at (strictly increasing between updates, except that a
    /// registration change carries the revision current when it was observed).
    public var revision: Int64
    /// The changes, in the order applied.
    public var changes: [MetadataChange]
    /// The image after the changes.
    public var image: MetadataImage

    /// Creates an update.
    public init(revision: Int64, changes: [MetadataChange], image: MetadataImage) {
        self.revision = revision
        self.changes = changes
        self.image = image
    }
}
