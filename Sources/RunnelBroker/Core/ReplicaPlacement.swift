// ReplicaPlacement: the replica lists of new partitions — round robin over the live brokers, or, when
// every broker has a `broker.rack`, over Kafka's rack-alternating broker list so each partition's
// replicas span as many racks as possible. Preferred leaders (first replicas) rotate over all brokers.
import RunnelCluster

/// Chooses replicas for new partitions.
enum ReplicaPlacement {
    /// One replica list per partition. Partition `p`'s preferred leader is the broker at position
    /// `p + firstPartition` of the broker list (sorted by id, or rack-alternating when every broker in
    /// `racks` has a rack and there are at least two racks), so preferred leaders rotate across brokers.
    /// Without racks the followers are the next brokers of the list; with racks, the next brokers of
    /// the list on a rack the partition does not use yet, until every rack is used. `brokers` must hold
    /// at least `replicationFactor` ids (callers check and answer INVALID_REPLICATION_FACTOR otherwise).
    static func assign(partitions: Int32, replicationFactor: Int16, brokers: [Int32], racks: [Int32: String] = [:],
                       firstPartition: Int32 = 0) -> [[Int32]] {
        let sorted = Array(Set(brokers)).sorted()
        let count = Int(max(partitions, 0))
        guard !sorted.isEmpty else { return Array(repeating: [], count: count) }
        let factor = min(Int(replicationFactor), sorted.count)
        let rackAware = sorted.allSatisfy { racks[$0] != nil } && Set(sorted.compactMap { racks[$0] }).count > 1
        let list = rackAware ? rackAlternating(sorted, racks: racks) : sorted
        let rackCount = rackAware ? Set(list.compactMap { racks[$0] }).count : 0
        return (0..<count).map { index in
            let start = (index + Int(firstPartition)) % list.count
            guard rackAware else { return (0..<factor).map { list[(start + $0) % list.count] } }
            var replicas = [list[start]]
            var usedRacks: Set<String> = [racks[list[start]] ?? ""]
            for offset in 1..<list.count where replicas.count < factor {
                let broker = list[(start + offset) % list.count]
                guard let rack = racks[broker], !usedRacks.contains(rack) || usedRacks.count == rackCount else { continue }
                replicas.append(broker)
                usedRacks.insert(rack)
            }
            // More replicas than racks: fill from the list in order.
            for offset in 1..<list.count where replicas.count < factor {
                let broker = list[(start + offset) % list.count]
                if !replicas.contains(broker) { replicas.append(broker) }
            }
            return replicas
        }
    }

    /// The racks of the brokers that have one, by node id.
    static func racks(of brokers: [BrokerRegistration]) -> [Int32: String] {
        var racks: [Int32: String] = [:]
        for broker in brokers { if let rack = broker.rack { racks[broker.nodeId] = rack } }
        return racks
    }

    /// Kafka's rack-alternating list: racks sorted by name, brokers of each rack sorted by id, then the
    /// first broker of each rack, the second of each rack, and so on (`a1 b1 c1 a2 b2 a3`).
    static func rackAlternating(_ brokers: [Int32], racks: [Int32: String]) -> [Int32] {
        var byRack: [String: [Int32]] = [:]
        for broker in brokers.sorted() { byRack[racks[broker] ?? "", default: []].append(broker) }
        let columns = byRack.keys.sorted().compactMap { byRack[$0] }
        let depth = columns.map(\.count).max() ?? 0
        return (0..<depth).flatMap { row in columns.compactMap { row < $0.count ? $0[row] : nil } }
    }
}
