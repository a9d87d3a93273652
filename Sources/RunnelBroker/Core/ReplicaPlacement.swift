// ReplicaPlacement: the replica lists of new partitions, Kafka's way: a broker list (sorted by id, or
// Kafka's rack-alternating list when every broker has a `broker.rack`), a start position on it chosen at
// random per topic so that preferred leaders (first replicas) of many small topics spread over every
// broker, and a follower shift that changes every time the partitions wrap around the list so that
// follower sets vary too. With racks, each partition's replicas span as many racks as possible.
import RunnelCluster

/// Chooses replicas for new partitions.
enum ReplicaPlacement {
    /// Where a placement starts on the broker list: partition `p`'s preferred leader is the broker at
    /// position `(p + startIndex) mod n`; `replicaShift` sets the distance of its followers (grown by
    /// one each time the partitions wrap around the list).
    struct Start: Equatable, Sendable {
        var startIndex: Int
        var replicaShift: Int

        /// A new topic's start: random over `brokerCount` brokers, as Kafka's placement (a deterministic
        /// start would make broker 1 the leader of every single-partition topic).
        static func random(brokerCount: Int) -> Start {
            let n = max(brokerCount, 1)
            return Start(startIndex: .random(in: 0..<n), replicaShift: .random(in: 0..<n))
        }

        /// Where partitions added to an existing topic continue: from the position of its partition 0's
        /// preferred leader (Kafka's rule for CreatePartitions), or at random if that broker is gone.
        static func continuing(after partition0: [Int32], brokers: [Int32], racks: [Int32: String]) -> Start {
            let list = ReplicaPlacement.brokerList(brokers, racks: racks)
            guard let leader = partition0.first, let index = list.firstIndex(of: leader) else {
                return .random(brokerCount: list.count)
            }
            return Start(startIndex: index, replicaShift: index)
        }
    }

    /// One replica list per partition, for partitions `firstPartition ..< firstPartition + partitions`.
    /// Without racks, partition `p`'s followers are the brokers `1 + (shift + j) mod (n - 1)` positions
    /// after its leader; with racks (every broker in `racks` has one, and there are at least two racks),
    /// the list is rack-alternating and a follower is taken only from a rack (and broker) the partition
    /// does not use yet, until every rack (broker) is used. `brokers` must hold at least
    /// `replicationFactor` ids (callers check and answer INVALID_REPLICATION_FACTOR otherwise).
    static func assign(partitions: Int32, replicationFactor: Int16, brokers: [Int32], racks: [Int32: String] = [:],
                       firstPartition: Int32 = 0, start: Start) -> [[Int32]] {
        let list = brokerList(brokers, racks: racks)
        let count = Int(max(partitions, 0))
        let n = list.count
        guard n > 0 else { return Array(repeating: [], count: count) }
        let factor = min(Int(max(replicationFactor, 1)), n)
        let rackAware = isRackAware(list, racks: racks)
        let rackCount = rackAware ? Set(list.compactMap { racks[$0] }).count : 1
        let startIndex = ((start.startIndex % n) + n) % n
        var shift = max(start.replicaShift, 0)
        var assignments: [[Int32]] = []
        assignments.reserveCapacity(count)
        for offset in 0..<count {
            let partition = Int(max(firstPartition, 0)) + offset
            if partition > 0, partition % n == 0 { shift += 1 }
            let first = (partition + startIndex) % n
            var replicas = [list[first]]
            guard factor > 1 else {
                assignments.append(replicas)
                continue
            }
            if !rackAware {
                for j in 0..<(factor - 1) { replicas.append(list[follower(of: first, shift: shift, j: j, n: n)]) }
            } else {
                var usedRacks: Set<String> = [racks[list[first]] ?? ""]
                var k = 0
                // Every broker is reachable from `first` within n - 1 steps of k (the step runs over
                // 1 ... n - 1), so each follower is found within that many tries; the bound only guards.
                while replicas.count < factor, k < factor * n * n {
                    let broker = list[follower(of: first, shift: shift * rackCount, j: k, n: n)]
                    k += 1
                    let rack = racks[broker] ?? ""
                    guard !usedRacks.contains(rack) || usedRacks.count == rackCount,
                          !replicas.contains(broker) else { continue }
                    replicas.append(broker)
                    usedRacks.insert(rack)
                }
            }
            assignments.append(replicas)
        }
        return assignments
    }

    /// The position of follower `j` of the partition led from position `first`: 1 to n - 1 places on.
    private static func follower(of first: Int, shift: Int, j: Int, n: Int) -> Int {
        guard n > 1 else { return first }
        return (first + 1 + (shift + j) % (n - 1)) % n
    }

    /// The broker list placements walk: rack-alternating when rack-aware, sorted by id otherwise.
    static func brokerList(_ brokers: [Int32], racks: [Int32: String]) -> [Int32] {
        let sorted = Array(Set(brokers)).sorted()
        return isRackAware(sorted, racks: racks) ? rackAlternating(sorted, racks: racks) : sorted
    }

    private static func isRackAware(_ brokers: [Int32], racks: [Int32: String]) -> Bool {
        !brokers.isEmpty && brokers.allSatisfy { racks[$0] != nil } && Set(brokers.compactMap { racks[$0] }).count > 1
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
