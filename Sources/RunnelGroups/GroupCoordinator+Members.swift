// GroupCoordinator+Members: SyncGroup (the leader's assignment reaches every member), Heartbeat and
// LeaveGroup, with Kafka's fencing order: coordinator, group, static instance, member id, generation.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Handles a SyncGroup. The leader's call stores the assignment, then answers every parked member;
    /// followers wait for it.
    public func syncGroup(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String?,
                          protocolType: String?, protocolName: String?,
                          assignments: [String: ByteBuffer]) async -> SyncGroupResult {
        if let error = groupRequestError(groupId) { return .failure(error) }
        guard let group = liveGroup(groupId) else { return .failure(.unknownMemberId) }
        if let error = group.memberError(memberId: memberId, groupInstanceId: groupInstanceId) { return .failure(error) }
        guard let member = group.member(memberId) else { return .failure(.unknownMemberId) }
        guard generationId == group.generationId else { return .failure(.illegalGeneration) }
        if let protocolType, protocolType != group.protocolType { return .failure(.inconsistentGroupProtocol) }
        if let protocolName, protocolName != group.protocolName { return .failure(.inconsistentGroupProtocol) }

        switch group.state {
        case .empty, .dead:
            return .failure(.unknownMemberId)
        case .preparingRebalance:
            return .failure(.rebalanceInProgress)
        case .stable:
            group.pendingSyncMembers.remove(memberId)
            member.heartbeatDeadlineMs = now() + Int64(member.sessionTimeoutMs)
            let result = SyncGroupResult(error: .none, protocolType: group.protocolType,
                                         protocolName: group.protocolName, assignment: member.assignment)
            movedAssignmentsAnswered(group, memberIds: [memberId])
            return result
        case .completingRebalance:
            group.pendingSyncMembers.remove(memberId)
            member.heartbeatDeadlineMs = now() + Int64(member.sessionTimeoutMs)
            if group.isLeader(memberId) {
                return await completeSync(group, leader: member, assignments: assignments)
            }
            member.completeSync(.failure(.rebalanceInProgress))
            return await withCheckedContinuation { continuation in
                member.awaitingSync = continuation
            }
        }
    }

    /// Stores the leader's assignment with the group metadata, then hands each member its part.
    private func completeSync(_ group: ClassicGroup, leader: GroupMember,
                              assignments: [String: ByteBuffer]) async -> SyncGroupResult {
        let generation = group.generationId
        var complete: [String: ByteBuffer] = [:]
        for memberId in group.members.keys { complete[memberId] = assignments[memberId] ?? ByteBuffer() }
        leaveMovedPartitionsOut(group, &complete)
        let error = await storeGroup(group, assignments: complete)
        // The group may have moved on while the record was written.
        if group.state == .stable, group.generationId == generation, group.member(leader.memberId) === leader {
            // A duplicate SyncGroup from the leader finished first: answer with what it stored.
            return SyncGroupResult(error: .none, protocolType: group.protocolType, protocolName: group.protocolName,
                                   assignment: leader.assignment)
        }
        guard group.state == .completingRebalance, group.generationId == generation,
              group.member(leader.memberId) === leader, groups[group.groupId] === group else {
            return .failure(group.state == .dead ? .coordinatorNotAvailable : .rebalanceInProgress)
        }
        if let error {
            resetAndPropagateAssignmentError(group, error)
            maybePrepareRebalance(group, reason: "storing the group's assignment failed: \(error.name)")
            return .failure(error)
        }
        for member in group.orderedMembers {
            member.assignment = complete[member.memberId] ?? ByteBuffer()
        }
        let nowMs = now()
        group.transition(to: .stable, nowMs: nowMs)
        let answered = group.orderedMembers.filter { $0.isAwaitingSync || $0 === leader }.map(\.memberId)
        for member in group.orderedMembers {
            // Sessions restart once the assignment is out: a member waiting on the leader was not expiring.
            if member.isAwaitingSync { member.heartbeatDeadlineMs = nowMs + Int64(member.sessionTimeoutMs) }
            member.completeSync(SyncGroupResult(error: .none, protocolType: group.protocolType,
                                                protocolName: group.protocolName, assignment: member.assignment))
        }
        logger.info("group stable", metadata: ["group": "\(group.groupId)", "generation": "\(generation)"])
        movedAssignmentsAnswered(group, memberIds: answered)
        return SyncGroupResult(error: .none, protocolType: group.protocolType, protocolName: group.protocolName,
                               assignment: leader.assignment)
    }

    /// Handles a Heartbeat: keeps the session alive and tells the member whether to rejoin.
    public func heartbeat(groupId: String, generationId: Int32, memberId: String,
                          groupInstanceId: String?) -> ErrorCode {
        if let error = groupRequestError(groupId) { return error }
        guard let group = liveGroup(groupId) else { return .unknownMemberId }
        if let error = group.memberError(memberId: memberId, groupInstanceId: groupInstanceId) { return error }
        guard let member = group.member(memberId) else { return .unknownMemberId }
        guard generationId == group.generationId else { return .illegalGeneration }
        switch group.state {
        case .empty, .dead:
            return .unknownMemberId
        case .preparingRebalance:
            member.heartbeatDeadlineMs = now() + Int64(member.sessionTimeoutMs)
            return .rebalanceInProgress
        case .completingRebalance, .stable:
            member.heartbeatDeadlineMs = now() + Int64(member.sessionTimeoutMs)
            return .none
        }
    }

    /// Handles a LeaveGroup for one or more members (v3+ batches by member id and/or instance id).
    public func leaveGroup(groupId: String, members leaving: [LeavingMember]) -> LeaveGroupResult {
        if let error = groupRequestError(groupId) { return LeaveGroupResult(error: error, members: []) }
        guard let group = liveGroup(groupId) else {
            return LeaveGroupResult(error: .none, members: leaving.map { ($0, ErrorCode.unknownMemberId) })
        }
        var results: [(member: LeavingMember, error: ErrorCode)] = []
        for identity in leaving {
            results.append((identity, removeLeavingMember(group, identity)))
        }
        return LeaveGroupResult(error: .none, members: results)
    }

    private func removeLeavingMember(_ group: ClassicGroup, _ identity: LeavingMember) -> ErrorCode {
        var memberId = identity.memberId
        if let instanceId = identity.groupInstanceId {
            guard let current = group.staticMemberId(for: instanceId) else { return .unknownMemberId }
            if memberId.isEmpty {
                memberId = current
            } else if current != memberId {
                return .fencedInstanceId
            }
        }
        if group.pendingMembers.removeValue(forKey: memberId) != nil {
            // Leaving before the second JoinGroup: the join phase may now be complete.
            if group.state == .preparingRebalance { tryCompleteJoin(group) }
            return .none
        }
        guard let member = group.member(memberId) else { return .unknownMemberId }
        removeMemberAndUpdateGroup(group, member, reason: "member left the group")
        return .none
    }
}
