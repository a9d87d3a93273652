// GroupTypes: the small value types the group coordinator speaks in — states, partitions, committed
// offsets, join/sync parameters and results — independent of any request version.
import KafkaProtocol
import NIOCore

/// A classic group's state, as Kafka's `GroupState` (names are what DescribeGroups and ListGroups show).
public enum ClassicGroupState: String, Sendable, CaseIterable {
    case empty = "Empty"
    case preparingRebalance = "PreparingRebalance"
    case completingRebalance = "CompletingRebalance"
    case stable = "Stable"
    case dead = "Dead"
}

/// An offset committed by a group for one partition (the content of an OffsetCommitValue record).
public struct CommittedOffset: Sendable, Equatable {
    public var offset: Int64
    public var leaderEpoch: Int32
    public var metadata: String
    public var commitTimestampMs: Int64
    /// Only set by OffsetCommit v2-v4 with a retention time; otherwise retention follows the group.
    public var expireTimestampMs: Int64?

    public init(offset: Int64, leaderEpoch: Int32 = -1, metadata: String = "", commitTimestampMs: Int64,
                expireTimestampMs: Int64? = nil) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.commitTimestampMs = commitTimestampMs
        self.expireTimestampMs = expireTimestampMs
    }
}

/// One protocol a member supports (e.g. assignor "range" with its subscription bytes), by preference.
public struct GroupProtocol: Sendable, Equatable {
    public var name: String
    public var metadata: ByteBuffer

    public init(name: String, metadata: ByteBuffer) {
        self.name = name
        self.metadata = metadata
    }
}

/// A JoinGroup request, as the coordinator needs it.
public struct JoinGroupParameters: Sendable {
    public var groupId: String
    public var memberId: String = ""
    public var groupInstanceId: String?
    public var clientId: String = ""
    public var clientHost: String = ""
    public var sessionTimeoutMs: Int32
    public var rebalanceTimeoutMs: Int32
    public var protocolType: String
    public var protocols: [GroupProtocol]
    /// JoinGroup v4+: a member without an id is given one and asked to rejoin with it (KIP-394).
    public var requireKnownMemberId: Bool = true
    /// JoinGroup v9+: the response can tell a rejoining static leader to skip the assignment (KIP-814).
    public var supportsSkippingAssignment: Bool = true
    public var reason: String?

    public init(groupId: String, memberId: String = "", groupInstanceId: String? = nil, clientId: String = "",
                clientHost: String = "", sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32,
                protocolType: String, protocols: [GroupProtocol], requireKnownMemberId: Bool = true,
                supportsSkippingAssignment: Bool = true, reason: String? = nil) {
        self.groupId = groupId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
        self.requireKnownMemberId = requireKnownMemberId
        self.supportsSkippingAssignment = supportsSkippingAssignment
        self.reason = reason
    }
}

/// A member as the group leader sees it in its JoinGroup response.
public struct JoinedMember: Sendable, Equatable {
    public var memberId: String
    public var groupInstanceId: String?
    public var metadata: ByteBuffer
}

/// The outcome of a JoinGroup.
public struct JoinGroupResult: Sendable {
    public var error: ErrorCode
    public var generationId: Int32 = -1
    public var protocolType: String?
    public var protocolName: String?
    public var leaderId: String = ""
    public var memberId: String
    /// Every member's metadata for the selected protocol — only in the leader's response.
    public var members: [JoinedMember] = []
    /// KIP-814: the leader (a static member that rejoined) need not compute a new assignment.
    public var skipAssignment = false

    static func failure(_ error: ErrorCode, memberId: String = "") -> JoinGroupResult {
        JoinGroupResult(error: error, memberId: memberId)
    }
}

/// The outcome of a SyncGroup: the member's assignment, or an error.
public struct SyncGroupResult: Sendable {
    public var error: ErrorCode
    public var protocolType: String?
    public var protocolName: String?
    public var assignment: ByteBuffer = ByteBuffer()

    static func failure(_ error: ErrorCode) -> SyncGroupResult {
        SyncGroupResult(error: error)
    }
}

/// One member named in a LeaveGroup request (v3+ batches them; older versions name one by member id).
public struct LeavingMember: Sendable, Equatable {
    public var memberId: String
    public var groupInstanceId: String?

    public init(memberId: String, groupInstanceId: String? = nil) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
    }
}

/// The outcome of a LeaveGroup: a group-level error and one error per named member.
public struct LeaveGroupResult: Sendable {
    public var error: ErrorCode
    public var members: [(member: LeavingMember, error: ErrorCode)]
}

/// One partition of an OffsetCommit request.
public struct OffsetCommitEntry: Sendable, Equatable {
    public var partition: TopicPartition
    public var offset: Int64
    public var leaderEpoch: Int32
    public var metadata: String?

    public init(partition: TopicPartition, offset: Int64, leaderEpoch: Int32 = -1, metadata: String? = nil) {
        self.partition = partition
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
    }
}

/// The committed offsets of one group for an OffsetFetch; `error` is the group-level error.
public struct OffsetFetchResult: Sendable {
    public var error: ErrorCode
    public var partitions: [(partition: TopicPartition, offset: CommittedOffset?, error: ErrorCode)]
}

/// A group as DescribeGroups shows it.
public struct GroupDescription: Sendable {
    public struct Member: Sendable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var metadata: ByteBuffer
        public var assignment: ByteBuffer
    }

    public var error: ErrorCode
    public var groupId: String
    public var state: ClassicGroupState
    public var protocolType: String
    public var protocolName: String
    public var members: [Member]
}

/// A group as ListGroups shows it.
public struct GroupListing: Sendable, Equatable {
    public var groupId: String
    public var protocolType: String
    public var state: ClassicGroupState
}
