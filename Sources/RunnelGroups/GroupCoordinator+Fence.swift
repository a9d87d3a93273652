// GroupCoordinator+Fence: moving a running group to new offsets (a Runnel extension used by
// `runnel alias swap --translate-offsets`). The group's current generation is fenced — it is sent into a
// rebalance and its late commits (the eager consumers' auto-commit on revoke) are refused with
// REBALANCE_IN_PROGRESS — and the offsets are written in the same coordinator step, so nothing the old
// generation commits can overwrite them. Members rejoin; the moved partitions leave their assignments
// for one generation and come back as new ones (GroupCoordinator+MovedPartitions), so every client drops
// its positions and reads the new offsets.
import KafkaProtocol

extension GroupCoordinator {
    /// Fences `groupId`'s current generation (when it has members) and commits `entries` for it.
    /// Returns the first error (NOT_COORDINATOR and friends, or a failed write), or NONE, with the fenced
    /// members' clients and the longest rebalance timeout among them.
    /// The moved partitions then leave the fenced members' assignments for one generation
    /// (GroupCoordinator+MovedPartitions); `assignmentNames` are the names assignments may give the moved
    /// topics besides their own (aliases).
    public func fenceAndCommit(groupId: String, offsets entries: [OffsetCommitEntry], assignmentNames: Set<String> = [],
                               reason: String) async -> GroupFence {
        if let error = coordinatorError(for: groupId) { return GroupFence(error: error) }
        let group: ClassicGroup
        switch commitTarget(groupId, generationId: -1, fencing: { _ in nil }) {
        case .success(let target): group = target
        case .failure(let refusal): return GroupFence(error: refusal.code)
        }
        var fence = GroupFence(error: .none)
        if group.state != .empty {
            group.fencedGeneration = group.generationId
            let targets = Set(entries.map(\.partition.topic))
            group.move = GroupMove(targets: targets, assignmentNames: targets.union(assignmentNames),
                                   pending: Set(group.members.keys))
            fence.members = group.members.values.map { GroupFence.Client(memberId: $0.memberId, clientId: $0.clientId, clientHost: $0.clientHost) }
            fence.rebalanceTimeoutMs = group.members.values.map(\.rebalanceTimeoutMs).max() ?? 0
            maybePrepareRebalance(group, reason: reason)
            logger.info("fenced group generation", metadata: [
                "group": "\(groupId)", "generation": "\(group.generationId)", "reason": "\(reason)"])
        } else {
            // Nobody holds positions: an earlier move is over.
            group.move = nil
            group.fencedGeneration = nil
        }
        let results = await writeCommits(entries, to: group, groupId: groupId, retentionTimeMs: -1)
        // Then the fence (GroupMove+Persistence): a coordinator loading the group after a failover goes on with it.
        let stored = group.move == nil ? nil : await storeGroup(group)
        fence.error = results.first { $0 != .none } ?? stored ?? .none
        return fence
    }
}

extension GroupCoordinator {
    /// The clients of `groupId`'s current members and their longest rebalance timeout (nothing changes).
    public func memberClients(groupId: String) -> GroupFence {
        if let error = coordinatorError(for: groupId) { return GroupFence(error: error) }
        guard let group = liveGroup(groupId) else { return GroupFence(error: .none) }
        var fence = GroupFence(error: .none)
        fence.members = group.members.values.map { GroupFence.Client(memberId: $0.memberId, clientId: $0.clientId, clientHost: $0.clientHost) }
        fence.rebalanceTimeoutMs = group.members.values.map(\.rebalanceTimeoutMs).max() ?? 0
        return fence
    }
}

/// What `fenceAndCommit` did: its error (or NONE), the fenced generation's members (with their client id
/// and host) and their longest rebalance timeout.
public struct GroupFence: Sendable {
    public struct Client: Sendable, Hashable {
        public var memberId: String
        public var clientId: String
        public var clientHost: String
    }

    public var error: ErrorCode
    public var members: [Client] = []
    public var rebalanceTimeoutMs: Int32 = 0
}
