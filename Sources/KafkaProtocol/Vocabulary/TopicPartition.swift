// TopicPartition: Kafka's name for one partition of one topic, shared by storage, broker, coordinators,
// client and CLI.

/// A topic name and partition number (Kafka's `TopicPartition`).
public struct TopicPartition: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The topic name.
    public var topic: String
    /// The partition number within the topic, from 0.
    public var partition: Int32

    /// The partition `partition` of `topic`.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Ordered by topic, then partition.
    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// `<topic>-<partition>`, as Kafka writes it (and names the partition's directory).
    public var description: String { "\(topic)-\(partition)" }
}
