// ReplicaPlacement: round robin without racks, rack-alternating with racks; every partition's
// replicas are distinct, span as many racks as possible, and preferred leaders are balanced.
@testable import RunnelBroker
import Testing

@Suite("ReplicaPlacement")
struct ReplicaPlacementTests {
    @Test("without racks: consecutive brokers of the sorted list, preferred leaders rotating")
    func roundRobin() {
        let assignments = ReplicaPlacement.assign(partitions: 4, replicationFactor: 2, brokers: [3, 1, 2])
        #expect(assignments == [[1, 2], [2, 3], [3, 1], [1, 2]])
        #expect(ReplicaPlacement.assign(partitions: 2, replicationFactor: 1, brokers: [1], firstPartition: 1) == [[1], [1]])
    }

    @Test("the rack-alternating list takes one broker of each rack in turn")
    func alternatingList() {
        let racks: [Int32: String] = [1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "a"]
        #expect(ReplicaPlacement.rackAlternating([1, 2, 3, 4, 5, 6], racks: racks) == [1, 3, 5, 2, 4, 6])
    }

    @Test("with racks every partition spans min(replication factor, racks) racks, with distinct replicas",
          arguments: [Int16(1), 2, 3, 4])
    func spansRacks(factor: Int16) {
        let racks: [Int32: String] = [1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"]
        let assignments = ReplicaPlacement.assign(partitions: 12, replicationFactor: factor, brokers: [1, 2, 3, 4, 5, 6], racks: racks)
        for replicas in assignments {
            #expect(replicas.count == Int(factor))
            #expect(Set(replicas).count == replicas.count)
            #expect(Set(replicas.compactMap { racks[$0] }).count == min(Int(factor), 3))
        }
        // Preferred leaders balanced: each broker leads 12 / 6 partitions.
        let leaders = Dictionary(grouping: assignments.compactMap(\.first), by: { $0 }).mapValues(\.count)
        #expect(leaders.count == 6 && leaders.values.allSatisfy { $0 == 2 })
    }

    @Test("uneven racks: still distinct replicas, all racks used, every broker a preferred leader")
    func unevenRacks() {
        let racks: [Int32: String] = [1: "a", 2: "a", 3: "a", 4: "b", 5: "c"]
        let assignments = ReplicaPlacement.assign(partitions: 10, replicationFactor: 3, brokers: [1, 2, 3, 4, 5], racks: racks)
        for replicas in assignments {
            #expect(Set(replicas).count == 3)
            #expect(Set(replicas.compactMap { racks[$0] }).count == 3)
        }
        #expect(Set(assignments.compactMap(\.first)) == [1, 2, 3, 4, 5])
    }

    @Test("a broker without a rack (or a single rack) means plain round robin, as when no broker has one")
    func partialRacks() {
        let plain = ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3])
        #expect(ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], racks: [1: "a", 2: "b"]) == plain)
        #expect(ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], racks: [1: "a", 2: "a", 3: "a"]) == plain)
    }
}
