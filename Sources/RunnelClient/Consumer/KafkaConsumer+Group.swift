// Group membership of the consumer (classic protocol, eager rebalancing with the range assignor):
// join and sync, heartbeats and auto-commit from poll, commit, leave on close.
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
        partitions = [:]
        try await join()
    }

    /// The group's member id and generation, once joined.
    public var groupMembership: (memberId: String, generationId: Int32)? {
        guard let group, !group.needsJoin else { return nil }
        return (group.memberId, group.generationId)
    }

    /// Runs group duties before a fetch: (re)joining, heartbeats, auto-commit.
    func groupPollHook() async throws {
        guard let state = group else { return }
        if state.needsJoin {
            try await join()
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
        guard let state = group, !state.needsJoin else { return }
        if configuration.enableAutoCommit { try? await commit() }
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

    // MARK: Join, sync, heartbeat

    private func join() async throws {
        guard var state = group else { return }
        if !partitions.isEmpty && configuration.enableAutoCommit && state.generationId >= 0 { try? await commit() }
        partitions = [:]
        for attempt in 0..<20 {
            if attempt > 0 { try await Task.sleep(for: client.configuration.retryBackoff * min(attempt, 10)) }
            if state.coordinator?.isActive != true {
                state.coordinator = try await client.coordinatorConnection(group: state.groupId)
            }
            guard let coordinator = state.coordinator else { continue }
            var request = JoinGroupRequest()
            request.groupId = state.groupId
            request.sessionTimeoutMs = configuration.sessionTimeoutMilliseconds
            request.rebalanceTimeoutMs = configuration.rebalanceTimeoutMilliseconds
            request.memberId = state.memberId
            request.groupInstanceId = nil
            request.protocolType = ConsumerProtocol.protocolType
            var range = JoinGroupRequest.JoinGroupRequestProtocol()
            range.name = RangeAssignor.name
            range.metadata = ConsumerProtocol.encodeSubscription(topics: state.topics)
            request.protocols = [range]
            let waitLimit = TimeAmount.milliseconds(Int64(configuration.rebalanceTimeoutMilliseconds) + 5_000)
            let response = try await coordinator.send(request, timeout: waitLimit)
            let code = ErrorCode(rawValue: response.errorCode)
            switch code {
            case .none: break
            case .memberIdRequired:
                state.memberId = response.memberId
                continue
            case .unknownMemberId:
                state.memberId = ""
                continue
            case .notCoordinator, .coordinatorNotAvailable:
                state.coordinator = nil
                continue
            default:
                if code.isRetriable || code == .rebalanceInProgress { continue }
                throw KafkaClientError.broker(code: code, context: "join group '\(state.groupId)'", message: nil)
            }
            state.memberId = response.memberId
            state.generationId = response.generationId
            var assignments: [String: [String: [Int32]]] = [:]
            if response.leader == response.memberId {
                assignments = try await assign(members: response.members)
            }
            var sync = SyncGroupRequest()
            sync.groupId = state.groupId
            sync.generationId = state.generationId
            sync.memberId = state.memberId
            sync.groupInstanceId = nil
            sync.protocolType = ConsumerProtocol.protocolType
            sync.protocolName = response.protocolName ?? RangeAssignor.name
            sync.assignments = assignments.map { member, partitions in
                var entry = SyncGroupRequest.SyncGroupRequestAssignment()
                entry.memberId = member
                entry.assignment = ConsumerProtocol.encodeAssignment(partitions)
                return entry
            }
            let synced = try await coordinator.send(sync, timeout: waitLimit)
            let syncCode = ErrorCode(rawValue: synced.errorCode)
            if syncCode == .rebalanceInProgress || syncCode.isRetriable { continue }
            if syncCode == .unknownMemberId || syncCode == .illegalGeneration {
                state.memberId = syncCode == .unknownMemberId ? "" : state.memberId
                continue
            }
            try KafkaClientError.check(synced.errorCode, "sync group '\(state.groupId)'")
            guard let assigned = ConsumerProtocol.decodeAssignment(synced.assignment) else {
                throw KafkaClientError.protocolError("malformed assignment from group '\(state.groupId)'")
            }
            state.needsJoin = false
            state.lastHeartbeat = .now
            state.lastCommit = .now
            group = state
            try await takeAssignment(assigned, state: state)
            return
        }
        group = state
        throw KafkaClientError.broker(code: .rebalanceInProgress, context: "join group '\(state.groupId)'",
                                      message: "gave up after repeated rebalances")
    }

    /// The leader's work: range-assign the subscribed topics' partitions to the members.
    private func assign(members: [JoinGroupResponse.JoinGroupResponseMember]) async throws -> [String: [String: [Int32]]] {
        var subscriptions: [String: [String]] = [:]
        for member in members {
            subscriptions[member.memberId] = ConsumerProtocol.decodeSubscriptionTopics(member.metadata) ?? []
        }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.values.flatMap { $0 }) {
            if let metadata = try? await client.topicMetadata(topic, forceRefresh: true) {
                counts[topic] = metadata.partitionCount
            }
        }
        return RangeAssignor.assign(subscriptions: subscriptions, partitionCounts: counts)
    }

    private func takeAssignment(_ assigned: [TopicPartition], state: GroupState) async throws {
        let committed = assigned.isEmpty ? [:]
            : try await client.committedOffsets(group: state.groupId, partitions: assigned)
        var next: [TopicPartition: PartitionState] = [:]
        for topicPartition in assigned {
            if let offset = committed[topicPartition] {
                next[topicPartition] = PartitionState(position: offset, start: nil)
            } else {
                next[topicPartition] = PartitionState(position: nil, start: state.start)
            }
        }
        partitions = next
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
