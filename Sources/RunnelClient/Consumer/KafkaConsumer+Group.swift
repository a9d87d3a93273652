// Group membership of the consumer (classic protocol): subscribe, heartbeats and auto-commit from poll,
// commit, leave on close. Joining and syncing (eager or cooperative) are in KafkaConsumer+Rebalance.
import KafkaProtocol
import NIOCore

/// The state of a subscribed consumer's group membership.
struct GroupState {
    var groupId: String
    var topics: [String]
    /// Where partitions without a committed offset start.
    var start: StartPosition?
    var memberId = ""
    var generationId: Int32 = -1
    var coordinator: BrokerConnection?
    var needsJoin = true
    var lastHeartbeat = ContinuousClock.now
    var lastCommit = ContinuousClock.now
}

extension KafkaConsumer {
    /// Subscribes to `topics` as a member of `configuration.groupId` and joins the group. Partitions
    /// without a committed offset start at `start` (default: `auto.offset.reset`).
    public func subscribe(topics: [String], startingAt start: StartPosition? = nil) async throws {
        guard let groupId = configuration.groupId, !groupId.isEmpty else {
            throw KafkaClientError.invalidArgument("subscribe needs a group.id")
        }
        for topic in topics { _ = try await client.topicMetadata(topic) }
        group = GroupState(groupId: groupId, topics: topics, start: start)
        prefetch = nil
        partitions = [:]
        try await join()
    }

    /// The group's member id and generation, once joined.
    public var groupMembership: (memberId: String, generationId: Int32)? {
        guard let group, !group.needsJoin else { return nil }
        return (group.memberId, group.generationId)
    }

    /// Runs group duties before a fetch: (re)joining, heartbeats, auto-commit. A cooperative member that
    /// owns partitions rejoins in the background and keeps fetching them meanwhile.
    func groupPollHook() async throws {
        if let error = rebalanceError {
            rebalanceError = nil
            throw error
        }
        guard let state = group, rebalanceTask == nil else { return }
        if state.needsJoin {
            if configuration.partitionAssignmentStrategy == .cooperativeSticky && !partitions.isEmpty {
                rebalanceTask = Task { await self.rejoinInBackground() }
            } else {
                try await join()
            }
            return
        }
        let now = ContinuousClock.now
        if now - state.lastHeartbeat >= configuration.heartbeatInterval { try await heartbeat() }
        if configuration.enableAutoCommit, now - state.lastCommit >= configuration.autoCommitInterval {
            try? await commit()
        }
    }

    /// Commits the current positions of all assigned partitions (synchronously).
    public func commit() async throws {
        var offsets: [TopicPartition: Int64] = [:]
        for (topicPartition, state) in partitions {
            if let position = state.position { offsets[topicPartition] = position }
        }
        try await commit(offsets)
    }

    /// Commits `offsets` (the next offsets to consume) for the group.
    public func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard var state = group else { throw KafkaClientError.invalidArgument("commit needs a group.id and subscribe") }
        guard !offsets.isEmpty else { return }
        try await client.commitOffsets(group: state.groupId, offsets: offsets, generationId: state.generationId,
                                       memberId: state.memberId, connection: state.coordinator)
        state.lastCommit = .now
        group?.lastCommit = state.lastCommit
    }

    /// True when every assigned partition's position has reached its end offset (resolving first).
    public func reachedEnd() async throws -> Bool {
        try await groupPollHook()
        try await resolvePositions()
        if partitions.isEmpty { return group.map { !$0.needsJoin } ?? true }
        return isAtEnd
    }

    /// Leaves the group (committing positions first when auto-commit is on).
    public func close() async {
        guard let state = group else { return }
        if rebalanceTask != nil || state.needsJoin {
            // Mid-rebalance: commits would be refused; leaving is enough (the rejoin loop sees `group == nil`).
            group = nil
        } else if configuration.enableAutoCommit {
            try? await commit()
        }
        guard state.generationId >= 0 || !state.memberId.isEmpty else {
            group = nil
            return
        }
        if let coordinator = state.coordinator {
            var request = LeaveGroupRequest()
            request.groupId = state.groupId
            if let version = try? coordinator.version(for: .leaveGroup), version >= 3 {
                var member = LeaveGroupRequest.MemberIdentity()
                member.memberId = state.memberId
                request.members = [member]
            } else {
                request.memberId = state.memberId
            }
            _ = try? await coordinator.send(request)
        }
        group = nil
    }

    private func heartbeat() async throws {
        guard var state = group, let coordinator = state.coordinator else {
            group?.needsJoin = true
            return
        }
        var request = HeartbeatRequest()
        request.groupId = state.groupId
        request.generationId = state.generationId
        request.memberId = state.memberId
        request.groupInstanceId = nil
        let code: ErrorCode
        do {
            code = ErrorCode(rawValue: try await coordinator.send(request).errorCode)
        } catch {
            state.coordinator = nil
            state.needsJoin = true
            group = state
            return
        }
        state.lastHeartbeat = .now
        switch code {
        case .none: break
        case .rebalanceInProgress: state.needsJoin = true
        case .unknownMemberId, .fencedInstanceId:
            state.memberId = ""
            state.needsJoin = true
        case .illegalGeneration: state.needsJoin = true
        case .notCoordinator, .coordinatorNotAvailable:
            state.coordinator = nil
            state.needsJoin = true
        default:
            group = state
            throw KafkaClientError.broker(code: code, context: "heartbeat to group '\(state.groupId)'", message: nil)
        }
        group = state
    }
}
