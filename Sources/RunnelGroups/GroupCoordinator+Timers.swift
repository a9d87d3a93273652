// GroupCoordinator+Timers: what happens when time passes — join and sync deadlines, member sessions,
// pending (KIP-394) member ids, and the periodic offset expiry.
import KafkaProtocol

extension GroupCoordinator {
    /// Fires every deadline that has passed. Called by the timer task every `timerTickMs`; tests move a
    /// manual clock and call it directly.
    public func runTimers() async {
        let nowMs = now()
        for group in Array(groups.values) where group.state != .dead {
            expireDeadlines(of: group, nowMs: nowMs)
        }
        if nowMs >= nextRetentionCheckMs {
            nextRetentionCheckMs = nowMs + config.offsetsRetentionCheckIntervalMs
            await expireOffsets()
        }
    }

    private func expireDeadlines(of group: ClassicGroup, nowMs: Int64) {
        for (memberId, deadline) in group.pendingMembers where deadline <= nowMs {
            group.pendingMembers.removeValue(forKey: memberId)
            if group.state == .preparingRebalance { tryCompleteJoin(group) }
        }
        for member in group.orderedMembers where member.heartbeatDeadlineMs <= nowMs {
            // Members parked in JoinGroup or SyncGroup are bounded by the rebalance timeout instead,
            // except new members, which must complete their first join within newMemberJoinTimeoutMs.
            guard member.isNew || (!member.isAwaitingJoin && !member.isAwaitingSync) else { continue }
            // An earlier removal in this pass may have completed a rebalance that already dropped it.
            guard group.member(member.memberId) === member else { continue }
            removeMemberAndUpdateGroup(group, member, reason: "session timeout expired")
        }
        if group.state == .preparingRebalance, let deadline = group.joinDeadlineMs, deadline <= nowMs {
            expireJoin(group)
        }
        if let deadline = group.syncDeadlineMs, deadline <= nowMs {
            group.syncDeadlineMs = nil
            guard group.state == .completingRebalance || group.state == .stable else { return }
            let laggards = group.pendingSyncMembers.compactMap { group.member($0) }
            guard !laggards.isEmpty else { return }
            for member in laggards {
                member.completeJoin(.failure(.unknownMemberId, memberId: member.memberId))
                member.completeSync(.failure(.unknownMemberId))
                group.remove(member.memberId)
            }
            logger.info("removed members that did not sync in time", metadata: [
                "group": "\(group.groupId)", "members": "\(laggards.map(\.memberId))"])
            prepareRebalance(group, reason: "members did not send SyncGroup within the rebalance timeout")
        }
    }
}
