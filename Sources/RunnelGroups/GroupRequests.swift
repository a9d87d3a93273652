// GroupRequests: the one translation between the group APIs' wire messages (any supported version) and
// the coordinator: requests become coordinator calls, answers become responses valid in that version.
// The broker's router decodes, runs these calls on the connection's lane and encodes; it translates
// nothing. Per-API code is in GroupRequests+*.swift.
import KafkaProtocol
import NIOCore

/// The group APIs at the request level: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
/// OffsetCommit, TxnOffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete.
public struct GroupRequests: Sendable {
    public let coordinator: GroupCoordinator
    let catalog: any GroupTopicCatalog
    let locateCoordinator: @Sendable (_ keyType: Int8, _ key: String) -> CoordinatorNode?
    private let verifierSlot = TransactionVerifierSlot()

    /// Asked before a TxnOffsetCommit is written whether its transaction may commit offsets for the group
    /// (nil: no check). Shared by every copy of this value, so it can be set after the broker has handed
    /// copies out, once the transaction coordinator exists.
    public var transactionVerifier: (any TransactionVerifier)? {
        get { verifierSlot.verifier }
        nonmutating set { verifierSlot.verifier = newValue }
    }

    /// - Parameters:
    ///   - coordinator: the group coordinator.
    ///   - catalog: topic lookups (ids, partition existence).
    ///   - locateCoordinator: the node coordinating a key of a type (0 group, 1 transaction, 2 share), or
    ///     nil if none is available; on a single node, this broker for groups and transactions.
    public init(coordinator: GroupCoordinator, catalog: any GroupTopicCatalog,
                locateCoordinator: @escaping @Sendable (_ keyType: Int8, _ key: String) -> CoordinatorNode?) {
        self.coordinator = coordinator
        self.catalog = catalog
        self.locateCoordinator = locateCoordinator
    }

    /// FindCoordinator key types.
    enum CoordinatorKeyType {
        static let group: Int8 = 0
        static let transaction: Int8 = 1
        static let share: Int8 = 2
    }

    /// Answers FindCoordinator: single key (v0-3) or batched keys (v4+).
    public func findCoordinator(_ request: FindCoordinatorRequest, version: Int16) -> FindCoordinatorResponse {
        var response = FindCoordinatorResponse()
        func locate(_ key: String) -> (error: ErrorCode, node: CoordinatorNode?) {
            guard request.keyType == CoordinatorKeyType.group || request.keyType == CoordinatorKeyType.transaction else {
                return (.invalidRequest, nil)
            }
            guard let node = locateCoordinator(request.keyType, key) else { return (.coordinatorNotAvailable, nil) }
            return (.none, node)
        }
        if version >= 4 {
            response.coordinators = request.coordinatorKeys.map { key in
                let (error, node) = locate(key)
                var entry = FindCoordinatorResponse.Coordinator()
                entry.key = key
                entry.errorCode = error.rawValue
                entry.errorMessage = error == .none ? nil : error.message
                entry.nodeId = node?.nodeId ?? -1
                entry.host = node?.host ?? ""
                entry.port = node?.port ?? -1
                return entry
            }
            return response
        }
        let (error, node) = locate(request.key)
        response.errorCode = error.rawValue
        response.errorMessage = version >= 1 ? (error == .none ? nil : error.message) : ""
        response.nodeId = node?.nodeId ?? -1
        response.host = node?.host ?? ""
        response.port = node?.port ?? -1
        return response
    }

    /// Answers JoinGroup; suspends until the rebalance's join phase completes.
    public func joinGroup(_ request: JoinGroupRequest, version: Int16, clientId: String,
                          clientHost: String) async -> JoinGroupResponse {
        let parameters = JoinGroupParameters(
            groupId: request.groupId, memberId: request.memberId, groupInstanceId: request.groupInstanceId,
            clientId: clientId, clientHost: clientHost, sessionTimeoutMs: request.sessionTimeoutMs,
            // v0 has no rebalance timeout: the session timeout bounds the rebalance, as in Kafka.
            rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            protocolType: request.protocolType,
            protocols: request.protocols.map { GroupProtocol(name: $0.name, metadata: $0.metadata) },
            requireKnownMemberId: version >= 4, supportsSkippingAssignment: version >= 9, reason: request.reason)
        let result = await coordinator.joinGroup(parameters)
        var response = JoinGroupResponse()
        response.errorCode = result.error.rawValue
        response.generationId = result.generationId
        response.memberId = result.memberId
        response.leader = result.leaderId
        if result.error == .none {
            response.protocolType = version >= 7 ? result.protocolType : nil
            response.protocolName = result.protocolName ?? (version >= 7 ? nil : "")
            response.skipAssignment = version >= 9 && result.skipAssignment
            response.members = result.members.map { member in
                var entry = JoinGroupResponse.JoinGroupResponseMember()
                entry.memberId = member.memberId
                entry.groupInstanceId = member.groupInstanceId
                entry.metadata = member.metadata
                return entry
            }
        } else {
            response.protocolType = nil
            response.protocolName = version >= 7 ? nil : ""
        }
        return response
    }

    /// Answers SyncGroup; followers suspend until the leader's assignment is stored.
    public func syncGroup(_ request: SyncGroupRequest, version: Int16) async -> SyncGroupResponse {
        var assignments: [String: ByteBuffer] = [:]
        for entry in request.assignments { assignments[entry.memberId] = entry.assignment }
        let result = await coordinator.syncGroup(
            groupId: request.groupId, generationId: request.generationId, memberId: request.memberId,
            groupInstanceId: request.groupInstanceId, protocolType: version >= 5 ? request.protocolType : nil,
            protocolName: version >= 5 ? request.protocolName : nil, assignments: assignments)
        var response = SyncGroupResponse()
        response.errorCode = result.error.rawValue
        response.assignment = result.assignment
        if version >= 5 && result.error == .none {
            response.protocolType = result.protocolType
            response.protocolName = result.protocolName
        }
        return response
    }

    /// Answers Heartbeat.
    public func heartbeat(_ request: HeartbeatRequest, version: Int16) async -> HeartbeatResponse {
        var response = HeartbeatResponse()
        response.errorCode = await coordinator.heartbeat(
            groupId: request.groupId, generationId: request.generationId, memberId: request.memberId,
            groupInstanceId: request.groupInstanceId).rawValue
        return response
    }

    /// Answers LeaveGroup: one member (v0-2) or a batch (v3+).
    public func leaveGroup(_ request: LeaveGroupRequest, version: Int16) async -> LeaveGroupResponse {
        var response = LeaveGroupResponse()
        if version < 3 {
            let result = await coordinator.leaveGroup(groupId: request.groupId,
                                                      members: [LeavingMember(memberId: request.memberId)])
            let error = result.error != .none ? result.error : (result.members.first?.error ?? .none)
            response.errorCode = error.rawValue
            return response
        }
        let leaving = request.members.map { LeavingMember(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId) }
        let result = await coordinator.leaveGroup(groupId: request.groupId, members: leaving)
        response.errorCode = result.error.rawValue
        response.members = result.members.map { outcome in
            var entry = LeaveGroupResponse.MemberResponse()
            entry.memberId = outcome.member.memberId
            entry.groupInstanceId = outcome.member.groupInstanceId
            entry.errorCode = outcome.error.rawValue
            return entry
        }
        return response
    }
}
