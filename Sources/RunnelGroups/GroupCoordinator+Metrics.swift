// GroupCoordinator+Metrics: every group's state, member count and committed offsets in one actor call,
// for /metrics and the console (lag is computed by the caller, who knows the log end offsets).
import KafkaProtocol

/// One group as a scrape sees it.
public struct GroupMetricsSnapshot: Sendable, Equatable {
    public var groupId: String
    public var state: ClassicGroupState
    public var members: Int
    /// Committed offsets, sorted by topic and partition.
    public var committed: [(partition: TopicPartition, offset: Int64)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.groupId == rhs.groupId && lhs.state == rhs.state && lhs.members == rhs.members
            && lhs.committed.elementsEqual(rhs.committed) { $0.partition == $1.partition && $0.offset == $1.offset }
    }
}

extension GroupCoordinator {
    /// Every live group this coordinator holds, sorted by id. Pending (transactional or in-flight)
    /// commits are not included: what a consumer would resume from is the committed offset.
    public func metricsSnapshot() -> [GroupMetricsSnapshot] {
        groups.values.filter { $0.state != .dead }.map { group in
            GroupMetricsSnapshot(
                groupId: group.groupId, state: group.state, members: group.orderedMembers.count,
                committed: group.offsets.map { ($0.key, $0.value.offset) }.sorted { $0.partition < $1.partition })
        }.sorted { $0.groupId < $1.groupId }
    }
}
