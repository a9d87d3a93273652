// The "cooperative-sticky" partition assignor (KIP-429): a balanced assignment that keeps each member's
// owned partitions where it can, minus partitions that change owner, which are assigned in the
// follow-up rebalance once their old owner has revoked them.
import KafkaProtocol

/// Kafka's `CooperativeStickyAssignor`. The leader runs `assign`; members whose assignment lacks
/// partitions they own revoke those and rejoin, and the next rebalance hands them to their new owner.
public enum CooperativeStickyAssignor {
    /// The protocol name members advertise.
    public static let name = "cooperative-sticky"

    /// The assignment to send in SyncGroup: the sticky target minus partitions still owned by another
    /// member (member id → topic → partitions; every member has an entry, possibly empty).
    public static func assign(subscriptions: [String: MemberSubscription], partitionCounts: [String: Int32])
        -> [String: [String: [Int32]]] {
        let owners = currentOwners(subscriptions: subscriptions, partitionCounts: partitionCounts)
        let target = stickyAssignment(subscriptions: subscriptions, partitionCounts: partitionCounts)
        var result: [String: [String: [Int32]]] = [:]
        for (member, partitions) in target {
            var byTopic: [String: [Int32]] = [:]
            for topicPartition in partitions {
                // Moving between members: the owner revokes it first; it is assigned next round.
                if let owner = owners[topicPartition], owner != member { continue }
                byTopic[topicPartition.topic, default: []].append(topicPartition.partition)
            }
            result[member] = byTopic.mapValues { $0.sorted() }
        }
        return result
    }

    /// Who owns each partition now: claims of partitions that exist and that the claimant subscribes to;
    /// when several members claim one, the highest generation wins and a tie leaves it unowned.
    static func currentOwners(subscriptions: [String: MemberSubscription], partitionCounts: [String: Int32])
        -> [TopicPartition: String] {
        var claims: [TopicPartition: (member: String, generation: Int32, contested: Bool)] = [:]
        for (member, subscription) in subscriptions.sorted(by: { $0.key < $1.key }) {
            let topics = Set(subscription.topics)
            for owned in Set(subscription.ownedPartitions) {
                guard topics.contains(owned.topic), let count = partitionCounts[owned.topic],
                      owned.partition >= 0, owned.partition < count else { continue }
                if let other = claims[owned] {
                    if subscription.generationId > other.generation {
                        claims[owned] = (member, subscription.generationId, false)
                    } else if subscription.generationId == other.generation {
                        claims[owned] = (other.member, other.generation, true)
                    }
                } else {
                    claims[owned] = (member, subscription.generationId, false)
                }
            }
        }
        var owners: [TopicPartition: String] = [:]
        for (topicPartition, claim) in claims where !claim.contested { owners[topicPartition] = claim.member }
        return owners
    }

    /// The balanced target: owned partitions stay, unowned ones go to the least loaded subscribed
    /// member, then partitions move from the most to the least loaded member until no subscribed member
    /// has two fewer than another. Deterministic (ties broken by member id).
    static func stickyAssignment(subscriptions: [String: MemberSubscription], partitionCounts: [String: Int32])
        -> [String: [TopicPartition]] {
        let members = subscriptions.keys.sorted()
        let topicsOf = subscriptions.mapValues { Set($0.topics) }
        var assignment: [String: [TopicPartition]] = Dictionary(uniqueKeysWithValues: members.map { ($0, []) })
        var assigned: Set<TopicPartition> = []
        let owners = currentOwners(subscriptions: subscriptions, partitionCounts: partitionCounts)
        for (topicPartition, owner) in owners.sorted(by: { $0.key < $1.key }) {
            assignment[owner, default: []].append(topicPartition)
            assigned.insert(topicPartition)
        }
        var all: [TopicPartition] = []
        for topic in Set(subscriptions.values.flatMap(\.topics)).sorted() {
            for partition in 0..<Swift.max(0, partitionCounts[topic] ?? 0) {
                all.append(TopicPartition(topic: topic, partition: partition))
            }
        }
        // Unowned partitions to the least loaded member subscribed to their topic.
        for topicPartition in all where !assigned.contains(topicPartition) {
            let eligible = members.filter { topicsOf[$0]?.contains(topicPartition.topic) == true }
            guard let least = eligible.min(by: { (assignment[$0]?.count ?? 0, $0) < (assignment[$1]?.count ?? 0, $1) })
            else { continue }
            assignment[least, default: []].append(topicPartition)
        }
        // Balance: each move lowers the sum of squared loads, so this ends.
        var moved = true
        while moved {
            moved = false
            let byLoad = members.sorted { (assignment[$0]?.count ?? 0, $1) > (assignment[$1]?.count ?? 0, $0) }
            search: for donor in byLoad {
                let partitions = assignment[donor] ?? []
                // Newest first: partitions just handed out move before long-owned ones.
                for index in partitions.indices.reversed() {
                    let topicPartition = partitions[index]
                    let eligible = members.filter { $0 != donor && topicsOf[$0]?.contains(topicPartition.topic) == true }
                    guard let least = eligible.min(by: {
                        (assignment[$0]?.count ?? 0, $0) < (assignment[$1]?.count ?? 0, $1)
                    }), partitions.count - (assignment[least]?.count ?? 0) > 1 else { continue }
                    assignment[donor]?.remove(at: index)
                    assignment[least, default: []].append(topicPartition)
                    moved = true
                    break search
                }
            }
        }
        return assignment
    }
}
