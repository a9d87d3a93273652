// The producer's default partitioner: murmur2 for keyed records, sticky partitions for null keys.
import NIOCore

/// Chooses partitions as the Java client's built-in partitioner does.
///
/// Keyed records go to `toPositive(murmur2(key)) % partitionCount`, so the same key lands on the same
/// partition as with the Java client, librdkafka's `murmur2_random` and kafka-python. Records without a key
/// stick to one partition until a batch for it is sent (KIP-480), then move on to another available one.
/// Not thread-safe: owned by the producer, which serializes access.
public struct DefaultPartitioner: Sendable {
    private var sticky: [String: Int32] = [:]
    private var chosenAt: [String: ContinuousClock.Instant] = [:]
    private var generator = SystemRandomNumberGenerator()

    /// A partitioner with no sticky choices yet.
    public init() {}

    /// The partition for a record with `key` (nil for none) on a topic of `partitionCount` partitions,
    /// preferring `available` (partitions with a leader) for null keys.
    public mutating func partition(topic: String, key: ByteBuffer?, partitionCount: Int32,
                                   available: [Int32] = []) -> Int32 {
        guard partitionCount > 0 else { return 0 }
        if let key {
            return Murmur2.partition(forKey: key, partitionCount: partitionCount)
        }
        if let current = sticky[topic], current < partitionCount,
           available.isEmpty || available.contains(current) {
            return current
        }
        return nextStickyPartition(topic: topic, partitionCount: partitionCount, available: available)
    }

    /// Called when a batch for the sticky partition of `topic` was closed: the next null-key record picks
    /// a new partition (a different one when more than one is available).
    @discardableResult
    public mutating func nextStickyPartition(topic: String, partitionCount: Int32,
                                             available: [Int32] = []) -> Int32 {
        guard partitionCount > 0 else { return 0 }
        let previous = sticky[topic]
        let candidates: [Int32] = available.isEmpty ? Array(0..<partitionCount) : available
        var choice: Int32
        if candidates.count == 1 {
            choice = candidates[0]
        } else {
            repeat {
                choice = candidates[Int.random(in: 0..<candidates.count, using: &generator)]
            } while choice == previous
        }
        sticky[topic] = choice
        chosenAt[topic] = .now
        return choice
    }

    /// The current sticky partition of `topic`, if one was chosen.
    public func stickyPartition(topic: String) -> Int32? { sticky[topic] }

    /// When the current sticky partition of `topic` was chosen.
    public func stickyPartitionChosenAt(topic: String) -> ContinuousClock.Instant? { chosenAt[topic] }
}
