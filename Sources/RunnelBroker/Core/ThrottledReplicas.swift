// ThrottledReplicas: the topic configs `leader.replication.throttled.replicas` and
// `follower.replication.throttled.replicas` (Kafka's QuotaConfig), parsed once when a topic's configs
// are resolved, and Kafka's rule for which replication traffic the broker rates
// (`leader/follower.replication.throttled.rate`) limit.
//
// Each list names `partition:brokerId` pairs, or `*` for every replica of the topic. As in Kafka
// (ConfigHandler.parseThrottledPartitions) a broker reads only the pairs that name itself: in the leader
// list, the brokers that send a partition's data when they lead it (kafka-reassign-partitions lists a
// moving partition's current replicas); in the follower list, the brokers that fetch it (the tool lists
// the replicas being added). A listed partition's traffic is throttled only while the fetching replica
// is out of the ISR (ReplicaManager.shouldLeaderThrottle / shouldFollowerThrottle), so in-sync
// replication is never slowed down.

/// A parsed throttled-replica list.
enum ThrottledReplicaList: Sendable, Equatable {
    /// Empty (the default): nothing is throttled.
    case none
    /// `*`: every replica of the topic.
    case all
    /// `partition:brokerId` pairs: the partitions listed for each broker.
    case replicas([Int32: Set<Int32>])

    /// The text Kafka's validator accepts: `*`, or a comma-separated list whose every item (trimmed) is
    /// empty or `partition:brokerId` with both non-negative integers.
    static let format = "[partitionId]:[brokerId],[partitionId]:[brokerId],... or *"

    /// Parses the config's list items (as the settings table splits them); nil when one is malformed.
    init?(items: [String]) {
        let trimmed = items.map { $0.trimmingWhitespace() }
        if trimmed.joined() == "*" {
            self = .all
            return
        }
        var byBroker: [Int32: Set<Int32>] = [:]
        for item in trimmed where !item.isEmpty {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
                  let partition = Int32(parts[0]), let broker = Int32(parts[1]) else { return nil }
            byBroker[broker, default: []].insert(partition)
        }
        self = byBroker.isEmpty ? .none : .replicas(byBroker)
    }

    /// Parses the config's text (`""`, `*`, `0:1,1:2`); nil when malformed.
    init?(text: String) {
        self.init(items: text.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
    }

    /// Whether the list names `partition` on `broker` (or is `*`).
    func includes(partition: Int32, broker: Int32) -> Bool {
        switch self {
        case .none: false
        case .all: true
        case .replicas(let byBroker): byBroker[broker]?.contains(partition) == true
        }
    }

    /// Whether the list is non-empty.
    var isEmpty: Bool { self == .none }
}

/// Kafka's decision which replication traffic the replication throttles limit.
enum ReplicationThrottleRule {
    /// A leader (`leader`, this broker) answering `follower`'s fetch of `partition` is throttled when the
    /// topic's leader list names `partition:leader` (or is `*`) and the follower is not in the ISR.
    static func leaderThrottles(_ list: ThrottledReplicaList, partition: Int32, leader: Int32,
                                follower: Int32, isr: [Int32]) -> Bool {
        list.includes(partition: partition, broker: leader) && !isr.contains(follower)
    }

    /// A follower (this broker) fetching `partition` is throttled when the topic's follower list names
    /// `partition:follower` (or is `*`) and it is not in the ISR.
    static func followerThrottles(_ list: ThrottledReplicaList, partition: Int32, follower: Int32,
                                  isr: [Int32]) -> Bool {
        list.includes(partition: partition, broker: follower) && !isr.contains(follower)
    }
}
