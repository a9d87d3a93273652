// Joining a consumer group (JoinGroup, the leader's assignment, SyncGroup) and taking the assignment:
// eagerly (range: give up everything, take the new set) or cooperatively (cooperative-sticky: revoke
// only what moved, rejoin at once when something was revoked, keep consuming the rest).
import KafkaProtocol
import NIOCore

extension KafkaConsumer {
    /// Runs `join` off the poll path (cooperative members with partitions to keep fetching).
    func rejoinInBackground() async {
        do {
            try await join()
        } catch {
            rebalanceError = error
        }
        rebalanceTask = nil
    }

    /// Stores `state` unless the consumer left the group meanwhile (close during a background rejoin).
    private func store(_ state: GroupState) {
        guard group != nil else { return }
        group = state
    }

    func join() async throws {
        guard var state = group else { return }
        let strategy = configuration.partitionAssignmentStrategy
        if strategy == .range {
            if !partitions.isEmpty && configuration.enableAutoCommit && state.generationId >= 0 { try? await commit() }
            prefetch = nil
            partitions = [:]
        }
        for attempt in 0..<20 {
            if attempt > 0 { try await Task.sleep(for: client.configuration.retryBackoff * min(attempt, 10)) }
            // Left the group (close) while rejoining in the background: stop here.
            guard group != nil else { return }
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
            var offered = JoinGroupRequest.JoinGroupRequestProtocol()
            offered.name = strategy.protocolName
            offered.metadata = subscriptionMetadata(state)
            request.protocols = [offered]
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
                losePartitions()
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
            let protocolName = response.protocolName ?? strategy.protocolName
            var assignments: [String: [String: [Int32]]] = [:]
            if response.leader == response.memberId {
                assignments = try await assign(members: response.members, protocolName: protocolName)
            }
            var sync = SyncGroupRequest()
            sync.groupId = state.groupId
            sync.generationId = state.generationId
            sync.memberId = state.memberId
            sync.groupInstanceId = nil
            sync.protocolType = ConsumerProtocol.protocolType
            sync.protocolName = protocolName
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
                losePartitions()
                continue
            }
            try KafkaClientError.check(synced.errorCode, "sync group '\(state.groupId)'")
            guard let assigned = ConsumerProtocol.decodeAssignment(synced.assignment) else {
                throw KafkaClientError.protocolError("malformed assignment from group '\(state.groupId)'")
            }
            guard group != nil else { return }
            state.needsJoin = false
            state.lastHeartbeat = .now
            state.lastCommit = .now
            store(state)
            if strategy == .cooperativeSticky {
                let revoked = try await takeIncrementally(assigned, state: state)
                // Something moved away: rejoin now so its new owner gets it in the follow-up rebalance.
                if !revoked.isEmpty { group?.needsJoin = true }
            } else {
                try await takeAssignment(assigned, state: state)
            }
            return
        }
        store(state)
        throw KafkaClientError.broker(code: .rebalanceInProgress, context: "join group '\(state.groupId)'",
                                      message: "gave up after repeated rebalances")
    }

    /// This member's JoinGroup metadata: topics only (range), or also owned partitions and generation.
    private func subscriptionMetadata(_ state: GroupState) -> ByteBuffer {
        guard configuration.partitionAssignmentStrategy == .cooperativeSticky else {
            return ConsumerProtocol.encodeSubscription(topics: state.topics)
        }
        var generation = ByteBuffer()
        generation.writeInteger(state.generationId)
        return ConsumerProtocol.encodeSubscription(MemberSubscription(
            topics: state.topics, userData: generation, ownedPartitions: partitions.keys.sorted(),
            generationId: state.generationId))
    }

    /// Partitions are lost (membership fenced): drop them without committing, as another member may
    /// own them already.
    private func losePartitions() {
        prefetch = nil
        partitions = [:]
    }

    /// The leader's work: assign the subscribed topics' partitions with the group's chosen protocol.
    private func assign(members: [JoinGroupResponse.JoinGroupResponseMember], protocolName: String) async throws
        -> [String: [String: [Int32]]] {
        var subscriptions: [String: MemberSubscription] = [:]
        for member in members {
            subscriptions[member.memberId] = ConsumerProtocol.decodeSubscription(member.metadata)
                ?? MemberSubscription(topics: [])
        }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.values.flatMap(\.topics)) {
            if let metadata = try? await client.topicMetadata(topic, forceRefresh: true) {
                counts[topic] = metadata.partitionCount
            }
        }
        if protocolName == CooperativeStickyAssignor.name {
            return CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: counts)
        }
        return RangeAssignor.assign(subscriptions: subscriptions.mapValues(\.topics), partitionCounts: counts)
    }

    /// Eager: the assignment replaces everything; positions come from committed offsets.
    private func takeAssignment(_ assigned: [TopicPartition], state: GroupState) async throws {
        let committed = assigned.isEmpty ? [:]
            : try await client.committedOffsets(group: state.groupId, partitions: assigned)
        prefetch = nil
        var next: [TopicPartition: PartitionState] = [:]
        for topicPartition in assigned {
            next[topicPartition] = startState(committed: committed[topicPartition], state: state)
        }
        partitions = next
    }

    /// Cooperative: commits and drops owned partitions missing from `assigned`, adds new ones (from their
    /// committed offsets) and keeps the rest, positions untouched. Returns the revoked partitions.
    private func takeIncrementally(_ assigned: [TopicPartition], state: GroupState) async throws -> [TopicPartition] {
        let target = Set(assigned)
        prefetch = nil
        let revoked = partitions.keys.filter { !target.contains($0) }.sorted()
        if !revoked.isEmpty {
            var offsets: [TopicPartition: Int64] = [:]
            for topicPartition in revoked {
                if let position = partitions[topicPartition]?.position { offsets[topicPartition] = position }
            }
            for topicPartition in revoked { partitions[topicPartition] = nil }
            if configuration.enableAutoCommit { try? await commit(offsets) }
        }
        let added = target.filter { partitions[$0] == nil }.sorted()
        guard !added.isEmpty else { return revoked }
        let committed = try await client.committedOffsets(group: state.groupId, partitions: added)
        for topicPartition in added where partitions[topicPartition] == nil {
            partitions[topicPartition] = startState(committed: committed[topicPartition], state: state)
        }
        return revoked
    }

    private func startState(committed: Int64?, state: GroupState) -> PartitionState {
        if let committed { return PartitionState(position: committed, start: nil) }
        return PartitionState(position: nil, start: state.start)
    }
}
