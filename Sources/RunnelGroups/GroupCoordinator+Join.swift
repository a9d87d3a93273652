// GroupCoordinator+Join: JoinGroup — new members (KIP-394 member id handshake), known members, static
// members replacing a previous instance (KIP-345), and the checks that answer with Kafka's error codes.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Handles a JoinGroup; returns when the member's rebalance phase is over (or at once on error).
    public func joinGroup(_ request: JoinGroupParameters) async -> JoinGroupResult {
        if let error = groupRequestError(request.groupId) { return .failure(error, memberId: request.memberId) }
        guard request.sessionTimeoutMs >= config.minSessionTimeoutMs,
              request.sessionTimeoutMs <= config.maxSessionTimeoutMs else {
            return .failure(.invalidSessionTimeout, memberId: request.memberId)
        }
        let isUnknownMember = request.memberId.isEmpty
        let group: ClassicGroup
        if let existing = liveGroup(request.groupId) {
            group = existing
        } else {
            guard isUnknownMember else { return .failure(.unknownMemberId, memberId: request.memberId) }
            group = ClassicGroup(groupId: request.groupId, partition: partition(for: request.groupId), nowMs: now())
            groups[request.groupId] = group
        }
        guard acceptsJoiningMember(group, memberId: request.memberId) else {
            group.pendingMembers.removeValue(forKey: request.memberId)
            if let member = group.member(request.memberId) {
                removeMemberAndUpdateGroup(group, member, reason: "group is over group.max.size")
            }
            // The refused member may have been the one the join phase was waiting for.
            tryCompleteJoin(group)
            return .failure(.groupMaxSizeReached)
        }
        guard group.supports(protocolType: request.protocolType, protocols: request.protocols) else {
            return .failure(.inconsistentGroupProtocol, memberId: request.memberId)
        }
        if isUnknownMember {
            return await joinAsNewMember(group, request)
        }
        return await joinAsKnownMember(group, request)
    }

    /// Kafka's `group.max.size` admission: an empty group takes anyone; while preparing a rebalance, members
    /// already waiting stay and others are taken while fewer than the limit wait (so a group loaded over a
    /// lowered limit shrinks to it); otherwise members stay and new ones come while there is room.
    private func acceptsJoiningMember(_ group: ClassicGroup, memberId: String) -> Bool {
        let limit = Int(config.maxSize)
        switch group.state {
        case .empty, .dead:
            return true
        case .preparingRebalance:
            if group.member(memberId)?.isAwaitingJoin == true { return true }
            return group.orderedMembers.filter(\.isAwaitingJoin).count < limit
        case .completingRebalance, .stable:
            return group.has(memberId) || group.size < limit
        }
    }

    private func joinAsNewMember(_ group: ClassicGroup, _ request: JoinGroupParameters) async -> JoinGroupResult {
        let memberId = newMemberId(clientId: request.clientId, groupInstanceId: request.groupInstanceId)
        if let instanceId = request.groupInstanceId, let oldMemberId = group.staticMemberId(for: instanceId) {
            return await replaceStaticMember(group, request, instanceId: instanceId, oldMemberId: oldMemberId,
                                             newMemberId: memberId)
        }
        if request.requireKnownMemberId && request.groupInstanceId == nil {
            group.pendingMembers[memberId] = now() + Int64(request.sessionTimeoutMs)
            return .failure(.memberIdRequired, memberId: memberId)
        }
        return await addMemberAndRebalance(group, request, memberId: memberId)
    }

    private func joinAsKnownMember(_ group: ClassicGroup, _ request: JoinGroupParameters) async -> JoinGroupResult {
        let memberId = request.memberId
        if group.pendingMembers.removeValue(forKey: memberId) != nil {
            return await addMemberAndRebalance(group, request, memberId: memberId)
        }
        if let error = group.memberError(memberId: memberId, groupInstanceId: request.groupInstanceId) {
            return .failure(error, memberId: memberId)
        }
        guard let member = group.member(memberId) else { return .failure(.unknownMemberId, memberId: memberId) }
        switch group.state {
        case .preparingRebalance:
            return await updateMemberAndRebalance(group, member, request)
        case .completingRebalance:
            if member.matches(request.protocols) {
                // A retried JoinGroup for the generation being synced: answer with the same result.
                return currentGenerationResult(group, for: member)
            }
            return await updateMemberAndRebalance(group, member, request)
        case .stable:
            if group.isLeader(memberId) || !member.matches(request.protocols) {
                // The leader rejoining, or a changed subscription, starts a rebalance.
                return await updateMemberAndRebalance(group, member, request)
            }
            return currentGenerationResult(group, for: member)
        case .empty, .dead:
            return .failure(.unknownMemberId, memberId: memberId)
        }
    }

    /// The JoinGroup answer for the current generation (the leader also gets every member's metadata).
    func currentGenerationResult(_ group: ClassicGroup, for member: GroupMember) -> JoinGroupResult {
        let isLeader = group.isLeader(member.memberId)
        return JoinGroupResult(
            error: .none, generationId: group.generationId, protocolType: group.protocolType,
            protocolName: group.protocolName, leaderId: group.leaderId ?? "", memberId: member.memberId,
            members: isLeader ? memberList(group) : [])
    }

    /// Every member's metadata for the selected protocol, in join order.
    func memberList(_ group: ClassicGroup) -> [JoinedMember] {
        group.orderedMembers.map {
            JoinedMember(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId,
                         metadata: $0.metadata(for: group.protocolName))
        }
    }

    private func addMemberAndRebalance(_ group: ClassicGroup, _ request: JoinGroupParameters,
                                       memberId: String) async -> JoinGroupResult {
        let member = GroupMember(
            memberId: memberId, groupInstanceId: request.groupInstanceId, clientId: request.clientId,
            clientHost: request.clientHost, rebalanceTimeoutMs: request.rebalanceTimeoutMs,
            sessionTimeoutMs: request.sessionTimeoutMs, protocolType: request.protocolType,
            protocols: request.protocols, heartbeatDeadlineMs: now() + Int64(config.newMemberJoinTimeoutMs))
        if group.state == .preparingRebalance && group.generationId == 0 { group.newMemberAdded = true }
        group.add(member)
        return await withCheckedContinuation { continuation in
            member.awaitingJoin = continuation
            maybePrepareRebalance(group, reason: "member \(memberId) joined")
            tryCompleteJoin(group)
        }
    }

    private func updateMemberAndRebalance(_ group: ClassicGroup, _ member: GroupMember,
                                          _ request: JoinGroupParameters) async -> JoinGroupResult {
        member.protocols = request.protocols
        member.rebalanceTimeoutMs = request.rebalanceTimeoutMs
        member.sessionTimeoutMs = request.sessionTimeoutMs
        member.clientId = request.clientId
        member.clientHost = request.clientHost
        // A duplicate JoinGroup supersedes the earlier one, which is told to rejoin.
        member.completeJoin(.failure(.rebalanceInProgress, memberId: member.memberId))
        return await withCheckedContinuation { continuation in
            member.awaitingJoin = continuation
            maybePrepareRebalance(group, reason: "member \(member.memberId) rejoined")
            tryCompleteJoin(group)
        }
    }

    /// A static member restarted with a new member id: the old id is fenced, the new one takes its place.
    private func replaceStaticMember(_ group: ClassicGroup, _ request: JoinGroupParameters, instanceId: String,
                                     oldMemberId: String, newMemberId: String) async -> JoinGroupResult {
        let previousLeaderId = group.leaderId
        guard let member = group.replaceStaticMember(instanceId: instanceId, oldMemberId: oldMemberId,
                                                     newMemberId: newMemberId) else {
            return .failure(.unknownMemberId, memberId: request.memberId)
        }
        // The previous instance's parked requests learn they were replaced.
        member.completeJoin(.failure(.fencedInstanceId, memberId: oldMemberId))
        member.completeSync(.failure(.fencedInstanceId))
        let oldProtocols = member.protocols
        let oldRebalanceTimeout = member.rebalanceTimeoutMs
        let oldSessionTimeout = member.sessionTimeoutMs
        member.protocols = request.protocols
        member.rebalanceTimeoutMs = request.rebalanceTimeoutMs
        member.sessionTimeoutMs = request.sessionTimeoutMs
        member.clientId = request.clientId
        member.clientHost = request.clientHost
        member.heartbeatDeadlineMs = now() + Int64(request.sessionTimeoutMs)
        logger.info("static member replaced", metadata: [
            "group": "\(group.groupId)", "instance": "\(instanceId)", "old_member": "\(oldMemberId)",
            "member": "\(newMemberId)"])

        switch group.state {
        case .stable where group.selectProtocol() == group.protocolName:
            // Same protocol: keep the generation and assignment; persist the new member id.
            let generation = group.generationId
            if let error = await storeGroup(group) {
                if group.state == .stable, group.generationId == generation, group.has(newMemberId),
                   let restored = group.replaceStaticMember(instanceId: instanceId, oldMemberId: newMemberId,
                                                            newMemberId: oldMemberId) {
                    restored.protocols = oldProtocols
                    restored.rebalanceTimeoutMs = oldRebalanceTimeout
                    restored.sessionTimeoutMs = oldSessionTimeout
                }
                // As Kafka: the new member id was not persisted, so none is handed out; the old one stays valid.
                var failure = JoinGroupResult.failure(error)
                failure.generationId = generation
                failure.protocolType = group.protocolType
                failure.protocolName = group.protocolName
                failure.leaderId = previousLeaderId ?? ""
                return failure
            }
            guard group.has(newMemberId) else { return .failure(.unknownMemberId, memberId: newMemberId) }
            var result = currentGenerationResult(group, for: member)
            if group.isLeader(newMemberId) {
                if request.supportsSkippingAssignment {
                    // KIP-814: a rejoining static leader gets the members but need not assign again.
                    result.skipAssignment = true
                } else {
                    // Before JoinGroup v9 it cannot be told to skip: answer as to a follower, naming the
                    // previous leader id, so it computes no assignment the stable group would not hand out.
                    result.members = []
                    result.leaderId = previousLeaderId ?? ""
                }
            }
            return result
        case .stable, .completingRebalance:
            // The leader may already have assigned to the old id; a rebalance keeps ids consistent.
            return await withCheckedContinuation { continuation in
                member.awaitingJoin = continuation
                prepareRebalance(group, reason: "static member \(instanceId) rejoined with a new member id")
            }
        case .preparingRebalance:
            return await withCheckedContinuation { continuation in
                member.awaitingJoin = continuation
                tryCompleteJoin(group)
            }
        case .empty, .dead:
            return .failure(.unknownMemberId, memberId: request.memberId)
        }
    }
}
