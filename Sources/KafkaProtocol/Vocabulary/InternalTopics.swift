// InternalTopics: the topics Kafka reserves for its own state (Kafka's `Topic.isInternal`), which
// clients may read but not write, delete or repartition.

/// Kafka's internal topic names.
public enum InternalTopics {
    /// Consumer-group state and committed offsets (`GROUP_METADATA_TOPIC_NAME`).
    public static let consumerOffsets = "__consumer_offsets"
    /// Transaction coordinator state (`TRANSACTION_STATE_TOPIC_NAME`).
    public static let transactionState = "__transaction_state"
    /// Every internal topic.
    public static let all: Set<String> = [consumerOffsets, transactionState]

    /// True for a topic Kafka treats as internal (Metadata's `is_internal`, refused to client writes).
    public static func contains(_ topic: String) -> Bool { all.contains(topic) }
}
