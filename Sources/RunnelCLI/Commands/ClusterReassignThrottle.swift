// `runnel cluster reassign --throttle RATE`: Kafka's reassignment throttle, as
// kafka-reassign-partitions.sh --throttle sets it — each moving partition's current replicas in its
// topic's leader.replication.throttled.replicas (whichever leads sends throttled), the replicas being
// added in follower.replication.throttled.replicas, and both rates as dynamic configs of every broker
// involved — removed again once the move is complete (Kafka's --verify).
import KafkaProtocol
import RunnelClient

struct ReassignmentThrottle {
    static let leaderReplicas = "leader.replication.throttled.replicas"
    static let followerReplicas = "follower.replication.throttled.replicas"
    static let rates = ["leader.replication.throttled.rate", "follower.replication.throttled.rate"]

    let rate: Int64
    /// Per topic: the leader list and the follower list (`partition:broker,...`).
    var lists: [String: (leader: String, follower: String)] = [:]
    /// Every broker that sends or receives a moving partition.
    var brokers: Set<Int32> = []

    /// The lists for `moves`, given each topic's current replicas.
    init(rate: Int64, moves: [KafkaAdmin.Reassignment], current: [String: TopicMetadata]) {
        self.rate = rate
        for (topic, topicMoves) in Dictionary(grouping: moves, by: \.topic) {
            var leader: [String] = []
            var follower: [String] = []
            for move in topicMoves.sorted(by: { $0.partition < $1.partition }) {
                let sources = current[topic]?.partitions.first { $0.partition == move.partition }?.replicas ?? []
                let destinations = move.replicas ?? []
                leader += sources.map { "\(move.partition):\($0)" }
                follower += destinations.filter { !sources.contains($0) }.map { "\(move.partition):\($0)" }
                brokers.formUnion(sources)
                brokers.formUnion(destinations)
            }
            lists[topic] = (leader.joined(separator: ","), follower.joined(separator: ","))
        }
    }

    /// Sets the lists on the topics and the rates on the brokers.
    func apply(_ admin: KafkaAdmin) async throws {
        for (topic, list) in lists.sorted(by: { $0.key < $1.key }) {
            try await admin.alterConfigs(.topic, name: topic, changes: [
                .set(Self.leaderReplicas, list.leader), .set(Self.followerReplicas, list.follower)])
        }
        for broker in brokers.sorted() {
            try await admin.alterConfigs(.broker, name: String(broker), changes: Self.rates.map { .set($0, String(rate)) })
        }
    }

    /// Removes the lists and the rates.
    func clear(_ admin: KafkaAdmin) async throws {
        for topic in lists.keys.sorted() {
            try await admin.alterConfigs(.topic, name: topic, changes: [.delete(Self.leaderReplicas), .delete(Self.followerReplicas)])
        }
        for broker in brokers.sorted() {
            try await admin.alterConfigs(.broker, name: String(broker), changes: Self.rates.map { .delete($0) })
        }
    }
}
