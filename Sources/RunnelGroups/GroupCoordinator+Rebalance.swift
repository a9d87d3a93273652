// GroupCoordinator+Rebalance: the rebalance state machine — entering PreparingRebalance (with the
// initial delay for empty groups), completing the join phase into a new generation, and removing
// members (leave, session expiry) with the follow-up transition Kafka makes.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Starts a rebalance unless one is already being prepared.
    func maybePrepareRebalance(_ group: ClassicGroup, reason: String) {
        switch group.state {
        case .stable, .completingRebalance, .empty:
            prepareRebalance(group, reason: reason)
        case .preparingRebalance, .dead:
            break
        }
    }

    /// Moves the group to PreparingRebalance and sets the join deadline: the largest member rebalance
    /// timeout, or for an empty group `group.initial.rebalance.delay.ms` (extended as members arrive).
    func prepareRebalance(_ group: ClassicGroup, reason: String) {
        if group.state == .completingRebalance {
            resetAndPropagateAssignmentError(group, .rebalanceInProgress)
        }
        group.pendingSyncMembers.removeAll()
        group.syncDeadlineMs = nil
        let nowMs = now()
        let rebalanceTimeout = Int64(group.rebalanceTimeoutMs)
        let initialDelay = Int64(config.initialRebalanceDelayMs)
        if group.state == .empty && initialDelay > 0 {
            group.initialDelay = (delayMs: initialDelay, remainingMs: max(rebalanceTimeout - initialDelay, 0))
            group.newMemberAdded = false
            group.joinDeadlineMs = nowMs + min(initialDelay, max(rebalanceTimeout, 0))
        } else {
            group.initialDelay = nil
            group.joinDeadlineMs = nowMs + rebalanceTimeout
        }
        group.transition(to: .preparingRebalance, nowMs: nowMs)
        logger.info("preparing to rebalance group", metadata: [
            "group": "\(group.groupId)", "generation": "\(group.generationId)", "reason": "\(reason)"])
        // Everyone may already be waiting (or nobody is left): complete at once, as Kafka's purgatory does.
        tryCompleteJoin(group)
    }

    /// Clears every assignment and answers parked SyncGroups with `error`.
    func resetAndPropagateAssignmentError(_ group: ClassicGroup, _ error: ErrorCode) {
        for member in group.orderedMembers {
            member.assignment = ByteBuffer()
            member.completeSync(.failure(error))
        }
    }

    /// Completes the join phase when every member (and no pending member) has rejoined. While the
    /// initial delay runs, only its deadline completes the phase.
    func tryCompleteJoin(_ group: ClassicGroup) {
        guard group.state == .preparingRebalance, group.initialDelay == nil, group.allMembersJoined else { return }
        completeJoin(group)
    }

    /// The join deadline passed: extend the initial delay if members keep arriving, else complete.
    func expireJoin(_ group: ClassicGroup) {
        if let delay = group.initialDelay, group.newMemberAdded, delay.remainingMs > 0 {
            let next = min(delay.delayMs, delay.remainingMs)
            group.initialDelay = (delayMs: delay.delayMs, remainingMs: max(delay.remainingMs - delay.delayMs, 0))
            group.newMemberAdded = false
            group.joinDeadlineMs = now() + next
            return
        }
        completeJoin(group)
    }

    /// Ends PreparingRebalance: drops dynamic members that did not rejoin, starts the next generation and
    /// answers every parked JoinGroup (the leader gets the member list).
    func completeJoin(_ group: ClassicGroup) {
        group.initialDelay = nil
        group.joinDeadlineMs = nil
        for member in group.orderedMembers where !member.isAwaitingJoin && !member.isStatic {
            group.remove(member.memberId)
        }
        guard group.state != .dead else { return }
        let joined = group.orderedMembers.filter(\.isAwaitingJoin)
        if let leaderId = group.leaderId, group.member(leaderId)?.isAwaitingJoin != true {
            group.leaderId = joined.first?.memberId ?? leaderId
        }
        if joined.isEmpty && !group.isEmpty {
            // Only static members that have not rejoined remain: wait another rebalance timeout for them
            // (their sessions expire meanwhile if they are gone).
            group.joinDeadlineMs = now() + Int64(group.rebalanceTimeoutMs)
            return
        }
        let nowMs = now()
        group.generationId &+= 1
        if group.isEmpty {
            group.protocolName = nil
            group.leaderId = nil
            group.subscribedTopics = nil
            group.transition(to: .empty, nowMs: nowMs)
            logger.info("group is empty", metadata: ["group": "\(group.groupId)", "generation": "\(group.generationId)"])
            persistInBackground(group)
            return
        }
        group.protocolName = group.selectProtocol()
        group.computeSubscribedTopics()
        group.transition(to: .completingRebalance, nowMs: nowMs)
        logger.info("group rebalanced", metadata: [
            "group": "\(group.groupId)", "generation": "\(group.generationId)",
            "members": "\(group.size)", "protocol": "\(group.protocolName ?? "")"])
        for member in group.orderedMembers {
            member.isNew = false
            member.heartbeatDeadlineMs = nowMs + Int64(member.sessionTimeoutMs)
            member.completeJoin(currentGenerationResult(group, for: member))
        }
        group.pendingSyncMembers = Set(group.members.keys)
        group.syncDeadlineMs = nowMs + Int64(group.rebalanceTimeoutMs)
    }

    /// Removes a member (LeaveGroup, session expiry) and moves the group on: a stable group rebalances,
    /// a rebalancing one may now complete its join phase.
    func removeMemberAndUpdateGroup(_ group: ClassicGroup, _ member: GroupMember, reason: String) {
        // A parked JoinGroup learns it must join again from scratch.
        member.completeJoin(.failure(.unknownMemberId, memberId: member.memberId))
        member.completeSync(.failure(.unknownMemberId))
        group.remove(member.memberId)
        logger.info("member removed", metadata: [
            "group": "\(group.groupId)", "member": "\(member.memberId)", "reason": "\(reason)"])
        switch group.state {
        case .dead, .empty:
            break
        case .stable, .completingRebalance:
            maybePrepareRebalance(group, reason: reason)
        case .preparingRebalance:
            tryCompleteJoin(group)
        }
    }
}
