// ReplicaPlacement: the replica lists of new partitions. For now Kafka's plain round robin over the
// live brokers; rack awareness and balanced preferred leaders come with the placement work (issue 12).

/// Chooses replicas for new partitions.
enum ReplicaPlacement {
    /// Partition `p`'s replicas are `factor` consecutive brokers of the sorted live list starting at
    /// `p + firstPartition`, so preferred leaders rotate across brokers. `brokers` must hold at least
    /// `replicationFactor` ids (callers check and answer INVALID_REPLICATION_FACTOR otherwise).
    static func assign(partitions: Int32, replicationFactor: Int16, brokers: [Int32], firstPartition: Int32 = 0) -> [[Int32]] {
        let sorted = brokers.sorted()
        guard !sorted.isEmpty else { return Array(repeating: [], count: Int(max(partitions, 0))) }
        let factor = min(Int(replicationFactor), sorted.count)
        return (0..<Int(max(partitions, 0))).map { index in
            let start = (index + Int(firstPartition)) % sorted.count
            return (0..<factor).map { sorted[(start + $0) % sorted.count] }
        }
    }
}
