// ReplicaPlacement: Kafka's placement — round robin from a random start without racks, rack-alternating
// with racks; every partition's replicas are distinct, span as many racks as possible, and preferred
// leaders are balanced, also over many single-partition topics.
@testable import RunnelBroker
import Testing

@Suite("ReplicaPlacement")
struct ReplicaPlacementTests {
    @Test("without racks: leaders rotate from the start index, followers shift each time the list wraps")
    func roundRobin() {
        let zero = ReplicaPlacement.Start(startIndex: 0, replicaShift: 0)
        let assignments = ReplicaPlacement.assign(partitions: 4, replicationFactor: 2, brokers: [3, 1, 2], start: zero)
        #expect(assignments == [[1, 2], [2, 3], [3, 1], [1, 3]])
        #expect(ReplicaPlacement.assign(partitions: 2, replicationFactor: 1, brokers: [1], firstPartition: 1, start: zero) == [[1], [1]])
        let second = ReplicaPlacement.Start(startIndex: 1, replicaShift: 1)
        #expect(ReplicaPlacement.assign(partitions: 3, replicationFactor: 3, brokers: [1, 2, 3], start: second)
                == [[2, 1, 3], [3, 2, 1], [1, 3, 2]])
    }

    @Test("every start and shift gives distinct replicas and leaders spread evenly", arguments: 1...6)
    func anyStart(brokers n: Int) {
        let brokers = (1...n).map(Int32.init)
        for factor in 1...n {
            for index in 0..<n {
                for shift in 0..<n {
                    let start = ReplicaPlacement.Start(startIndex: index, replicaShift: shift)
                    let assignments = ReplicaPlacement.assign(partitions: Int32(2 * n), replicationFactor: Int16(factor),
                                                              brokers: brokers, start: start)
                    #expect(assignments.allSatisfy { $0.count == factor && Set($0).count == factor })
                    let leaders = Dictionary(grouping: assignments.compactMap(\.first), by: { $0 }).mapValues(\.count)
                    #expect(leaders.count == n && leaders.values.allSatisfy { $0 == 2 })
                }
            }
        }
    }

    @Test("single-partition topics get their preferred leaders on every broker (a random start per topic)")
    func smallTopicsSpread() {
        var leaders: [Int32: Int] = [:]
        var followerSets: Set<[Int32]> = []
        for _ in 0..<300 {
            let start = ReplicaPlacement.Start.random(brokerCount: 3)
            let replicas = ReplicaPlacement.assign(partitions: 1, replicationFactor: 2, brokers: [1, 2, 3], start: start)[0]
            leaders[replicas[0], default: 0] += 1
            followerSets.insert(replicas)
        }
        // 100 each expected; under 50 for any broker would take a six-sigma draw.
        #expect(leaders.count == 3 && leaders.values.allSatisfy { $0 >= 50 }, "\(leaders)")
        #expect(followerSets.count == 6, "every ordered pair of brokers appears: \(followerSets)")
    }

    @Test("added partitions continue from partition 0's preferred leader, as Kafka's CreatePartitions")
    func continuing() {
        #expect(ReplicaPlacement.Start.continuing(after: [2, 3], brokers: [3, 1, 2], racks: [:])
                == ReplicaPlacement.Start(startIndex: 1, replicaShift: 1))
        let existing = ReplicaPlacement.assign(partitions: 3, replicationFactor: 1, brokers: [1, 2, 3],
                                               start: .init(startIndex: 2, replicaShift: 0))
        let added = ReplicaPlacement.assign(partitions: 3, replicationFactor: 1, brokers: [1, 2, 3], firstPartition: 3,
                                            start: .continuing(after: existing[0], brokers: [1, 2, 3], racks: [:]))
        #expect(existing + added == [[3], [1], [2], [3], [1], [2]])
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
        let assignments = ReplicaPlacement.assign(partitions: 12, replicationFactor: factor, brokers: [1, 2, 3, 4, 5, 6], racks: racks,
                                                  start: .random(brokerCount: 6))
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
        let assignments = ReplicaPlacement.assign(partitions: 10, replicationFactor: 3, brokers: [1, 2, 3, 4, 5], racks: racks,
                                                  start: .random(brokerCount: 5))
        for replicas in assignments {
            #expect(Set(replicas).count == 3)
            #expect(Set(replicas.compactMap { racks[$0] }).count == 3)
        }
        #expect(Set(assignments.compactMap(\.first)) == [1, 2, 3, 4, 5])
    }

    @Test("a broker without a rack (or a single rack) means plain round robin, as when no broker has one")
    func partialRacks() {
        let start = ReplicaPlacement.Start(startIndex: 1, replicaShift: 2)
        let plain = ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], start: start)
        #expect(ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], racks: [1: "a", 2: "b"], start: start) == plain)
        #expect(ReplicaPlacement.assign(partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], racks: [1: "a", 2: "a", 3: "a"],
                                        start: start) == plain)
    }
}
