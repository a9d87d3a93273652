// The "range" partition assignor: per topic, consecutive ranges of partitions to members sorted by id.

/// Kafka's `RangeAssignor`: for each topic, members subscribed to it (sorted by member id) get consecutive
/// partition ranges; the first `partitions % members` members get one extra.
public enum RangeAssignor {
    /// The protocol name members advertise.
    public static let name = "range"

    /// Assigns partitions: `subscriptions` maps member id to topics, `partitionCounts` topic to count.
    public static func assign(subscriptions: [String: [String]], partitionCounts: [String: Int32])
        -> [String: [String: [Int32]]] {
        var result: [String: [String: [Int32]]] = [:]
        for member in subscriptions.keys { result[member] = [:] }
        let topics = Set(subscriptions.values.flatMap { $0 })
        for topic in topics.sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let members = subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
            guard !members.isEmpty else { continue }
            let perMember = Int(count) / members.count
            let extra = Int(count) % members.count
            var next = 0
            for (index, member) in members.enumerated() {
                let share = perMember + (index < extra ? 1 : 0)
                guard share > 0 else { continue }
                result[member, default: [:]][topic] = (next..<(next + share)).map { Int32($0) }
                next += share
            }
        }
        return result
    }
}
