// GroupPartitioner: which `__consumer_offsets` partition (and so which coordinator) owns a group.
import KafkaProtocol

/// Kafka's placement of a group (`CoordinatorPartitioner`, shared with the transaction coordinator).
public enum GroupPartitioner {
    /// Java's `String.hashCode()` over UTF-16 code units.
    public static func javaStringHashCode(_ string: String) -> Int32 {
        CoordinatorPartitioner.javaStringHashCode(string)
    }

    /// The `__consumer_offsets` partition of `groupId` among `partitionCount` partitions.
    public static func partition(for groupId: String, partitionCount: Int32) -> Int32 {
        CoordinatorPartitioner.partition(for: groupId, partitionCount: partitionCount)
    }
}
