// CoordinatorPartitioner: which partition of an internal coordinator topic owns a key — a group id in
// `__consumer_offsets`, a transactional id in `__transaction_state`.

/// Kafka's placement: `Utils.abs(key.hashCode()) % partitionCount`, with Java's `String.hashCode` over
/// UTF-16 code units and `Utils.abs` mapping `Int.MIN_VALUE` to 0. Using the same function keeps a group
/// or transactional id on the partition a Kafka cluster would choose.
public enum CoordinatorPartitioner {
    /// Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping in 32 bits.
    public static func javaStringHashCode(_ string: String) -> Int32 {
        var hash: Int32 = 0
        for unit in string.utf16 {
            hash = hash &* 31 &+ Int32(unit)
        }
        return hash
    }

    /// The partition of `key` among `partitionCount` partitions.
    public static func partition(for key: String, partitionCount: Int32) -> Int32 {
        guard partitionCount > 0 else { return 0 }
        let hash = javaStringHashCode(key)
        // Kafka's Utils.abs: Int.MIN_VALUE has no positive counterpart and maps to 0.
        let positive = hash == Int32.min ? 0 : abs(hash)
        return positive % partitionCount
    }
}
