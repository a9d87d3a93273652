// GroupMember: one member of a classic group — identity, timeouts, protocols, assignment, and the
// JoinGroup/SyncGroup requests it has parked until the rebalance moves on.
import KafkaProtocol
import NIOCore

/// A member of a classic group. Owned by its `ClassicGroup`, mutated only on the coordinator actor.
final class GroupMember {
    var memberId: String
    let groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var rebalanceTimeoutMs: Int32
    var sessionTimeoutMs: Int32
    var protocolType: String
    /// Supported protocols, most preferred first.
    var protocols: [GroupProtocol]
    /// The assignment the leader gave this member in the current generation.
    var assignment = ByteBuffer()
    /// A JoinGroup waiting for the rebalance to complete.
    var awaitingJoin: CheckedContinuation<JoinGroupResult, Never>?
    /// A SyncGroup waiting for the leader's assignment.
    var awaitingSync: CheckedContinuation<SyncGroupResult, Never>?
    /// True from the first join until the member gets its first JoinGroup response; such a member is
    /// removed after `newMemberJoinTimeoutMs` even while it waits.
    var isNew = true
    /// When the session expires unless a heartbeat (or join, sync) arrives.
    var heartbeatDeadlineMs: Int64

    init(memberId: String, groupInstanceId: String?, clientId: String, clientHost: String,
         rebalanceTimeoutMs: Int32, sessionTimeoutMs: Int32, protocolType: String, protocols: [GroupProtocol],
         heartbeatDeadlineMs: Int64) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
        self.heartbeatDeadlineMs = heartbeatDeadlineMs
    }

    var isStatic: Bool { groupInstanceId != nil }
    var isAwaitingJoin: Bool { awaitingJoin != nil }
    var isAwaitingSync: Bool { awaitingSync != nil }

    /// The subscription bytes for `protocolName` (empty if the member does not support it).
    func metadata(for protocolName: String?) -> ByteBuffer {
        protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
    }

    /// True when `protocols` equal the member's current ones, names, order and bytes.
    func matches(_ protocols: [GroupProtocol]) -> Bool {
        self.protocols == protocols
    }

    /// Answers a parked JoinGroup, if any.
    func completeJoin(_ result: JoinGroupResult) {
        guard let waiter = awaitingJoin else { return }
        awaitingJoin = nil
        waiter.resume(returning: result)
    }

    /// Answers a parked SyncGroup, if any.
    func completeSync(_ result: SyncGroupResult) {
        guard let waiter = awaitingSync else { return }
        awaitingSync = nil
        waiter.resume(returning: result)
    }
}
