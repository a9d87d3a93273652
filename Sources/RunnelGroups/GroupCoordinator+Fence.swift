// GroupCoordinator+Fence: moving a running group to new offsets (a Runnel extension used by
// `runnel alias swap --translate-offsets`). The group's current generation is fenced — it is sent into a
// rebalance and its late commits (the eager consumers' auto-commit on revoke) are refused with
// REBALANCE_IN_PROGRESS — and the offsets are written in the same coordinator step, so nothing the old
// generation commits can overwrite them. Members rejoin, drop their positions (eager protocol) and
// read the new offsets.
import KafkaProtocol

extension GroupCoordinator {
    /// Fences `groupId`'s current generation (when it has members) and commits `entries` for it.
    /// Returns the first error (NOT_COORDINATOR and friends, or a failed write), or NONE.
    public func fenceAndCommit(groupId: String, offsets entries: [OffsetCommitEntry], reason: String) async -> ErrorCode {
        if let error = coordinatorError(for: groupId) { return error }
        let group: ClassicGroup
        switch commitTarget(groupId, generationId: -1, fencing: { _ in nil }) {
        case .success(let target): group = target
        case .failure(let refusal): return refusal.code
        }
        if group.state != .empty {
            group.fencedGeneration = group.generationId
            maybePrepareRebalance(group, reason: reason)
            logger.info("fenced group generation", metadata: [
                "group": "\(groupId)", "generation": "\(group.generationId)", "reason": "\(reason)"])
        }
        let results = await writeCommits(entries, to: group, groupId: groupId, retentionTimeMs: -1)
        return results.first { $0 != .none } ?? .none
    }
}
