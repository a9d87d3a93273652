// ClassicGroup: one classic consumer group's state — members, static members, pending members,
// generation, selected protocol, committed offsets and rebalance deadlines. Decisions about state
// transitions live in GroupCoordinator; this type keeps the bookkeeping consistent.
import KafkaProtocol
import NIOCore

/// A classic group. Owned and mutated only by the `GroupCoordinator` actor.
final class ClassicGroup {
    let groupId: String
    /// The `__consumer_offsets` partition holding this group's records.
    let partition: Int32
    private(set) var state: ClassicGroupState
    /// When the group last changed state (persisted; the base of offset expiry for empty groups).
    private(set) var currentStateTimestampMs: Int64?
    var protocolType: String?
    var protocolName: String?
    var generationId: Int32 = 0
    var leaderId: String?
    private(set) var members: [String: GroupMember] = [:]
    /// Join order of members, so leader choice and responses are deterministic.
    private(set) var memberOrder: [String] = []
    /// `group.instance.id` → member id of the static member holding it.
    private(set) var staticMembers: [String: String] = [:]
    /// Member ids handed out by MEMBER_ID_REQUIRED, with the time they expire if the member does not rejoin.
    var pendingMembers: [String: Int64] = [:]
    /// Members of the current generation that have not yet sent SyncGroup.
    var pendingSyncMembers: Set<String> = []
    /// When the current PreparingRebalance phase gives up waiting for members.
    var joinDeadlineMs: Int64?
    /// Set while the first rebalance of an empty group waits `group.initial.rebalance.delay.ms`.
    var initialDelay: (delayMs: Int64, remainingMs: Int64)?
    /// A member joined during the initial delay, so the delay is extended once more.
    var newMemberAdded = false
    /// When members that have not sent SyncGroup are removed.
    var syncDeadlineMs: Int64?
    /// The last generation fenced by `GroupCoordinator.fenceAndCommit`: its members' commits are refused.
    var fencedGeneration: Int32?
    /// What the last fence moved, while members may hold positions from before it (GroupCoordinator+MovedPartitions).
    var move: GroupMove?
    /// Topics the members subscribe to (consumer protocol only); nil when unknown.
    var subscribedTopics: Set<String>?
    /// Committed offsets. Change them with `setOffset`/`removeOffset`, which keep `offsetPositions` in step.
    private(set) var offsets: [TopicPartition: CommittedOffset] = [:]
    /// Where each committed offset's record is in the group's `__consumer_offsets` partition (a position
    /// that grows in log order): a transactional offset whose transaction commits replaces the committed
    /// one only if its record was written later, as in Kafka.
    private(set) var offsetPositions: [TopicPartition: Int64] = [:]
    /// Offset commits being written, per partition (OffsetFetch with require_stable reports them).
    var pendingOffsetCommits: [TopicPartition: Int] = [:]
    /// Transactional offsets (TxnOffsetCommit) whose transaction has no COMMIT/ABORT marker yet, per producer
    /// id. A producer id present here, even with no offsets left (a tombstone removed them), is an open
    /// transaction of this group (Kafka's `openTransactionsByGroup`).
    var pendingTransactionalOffsets: [Int64: [TopicPartition: PositionedOffset]] = [:]

    init(groupId: String, partition: Int32, state: ClassicGroupState = .empty, nowMs: Int64?) {
        self.groupId = groupId
        self.partition = partition
        self.state = state
        self.currentStateTimestampMs = nowMs
    }

    func transition(to newState: ClassicGroupState, nowMs: Int64) {
        state = newState
        currentStateTimestampMs = nowMs
    }

    /// Restores the persisted state timestamp when loading.
    func restoreStateTimestamp(_ timestampMs: Int64?) {
        currentStateTimestampMs = timestampMs
    }

    /// Sets the committed offset of `partition`, written at log `position`.
    func setOffset(_ offset: CommittedOffset, for partition: TopicPartition, position: Int64) {
        offsets[partition] = offset
        offsetPositions[partition] = position
    }

    /// Removes the committed offset of `partition`.
    func removeOffset(for partition: TopicPartition) {
        offsets.removeValue(forKey: partition)
        offsetPositions.removeValue(forKey: partition)
    }

    /// Applies a tombstone for `partition`: the committed offset and every open transaction's pending
    /// offset for it go (Kafka's replay of an offset tombstone).
    func applyOffsetTombstone(for partition: TopicPartition) {
        removeOffset(for: partition)
        for producerId in pendingTransactionalOffsets.keys {
            pendingTransactionalOffsets[producerId]?.removeValue(forKey: partition)
        }
    }

    /// Applies a plain commit written at `position` unless a later-written offset is already applied.
    func applyCommittedOffset(_ offset: CommittedOffset, for partition: TopicPartition, position: Int64) {
        guard position > offsetPositions[partition] ?? Int64.min else { return }
        setOffset(offset, for: partition, position: position)
    }

    /// Ends `producerId`'s open transaction: on commit its pending offsets become committed, each one only
    /// if its record was written after the committed offset's (the later write wins, as in Kafka); on abort
    /// they are dropped. Returns the number of offsets applied.
    @discardableResult
    func completeTransaction(producerId: Int64, commit: Bool) -> Int {
        guard let pending = pendingTransactionalOffsets.removeValue(forKey: producerId), commit else { return 0 }
        var applied = 0
        for (partition, entry) in pending where entry.position > offsetPositions[partition] ?? Int64.min {
            setOffset(entry.offset, for: partition, position: entry.position)
            applied += 1
        }
        return applied
    }

    /// True when an open transaction has a pending offset for `partition`.
    func hasPendingTransactionalOffset(for partition: TopicPartition) -> Bool {
        pendingTransactionalOffsets.values.contains { $0[partition] != nil }
    }

    /// Partitions with a pending transactional offset, over every open transaction.
    var pendingTransactionalPartitions: Set<TopicPartition> {
        Set(pendingTransactionalOffsets.values.flatMap(\.keys))
    }

    /// True while the group has an open transaction (Kafka keeps such a group when offsets expire).
    var hasOpenTransactions: Bool { !pendingTransactionalOffsets.isEmpty }

    var isEmpty: Bool { members.isEmpty }
    var size: Int { members.count }
    var orderedMembers: [GroupMember] { memberOrder.compactMap { members[$0] } }
    func member(_ memberId: String) -> GroupMember? { members[memberId] }
    func has(_ memberId: String) -> Bool { members[memberId] != nil }
    func isLeader(_ memberId: String) -> Bool { leaderId == memberId }
    func staticMemberId(for instanceId: String) -> String? { staticMembers[instanceId] }

    /// Kafka's member check for join, sync, heartbeat and commit: a `group.instance.id` must be known and
    /// mapped to `memberId` (else UNKNOWN_MEMBER_ID, or FENCED_INSTANCE_ID when another member id now holds
    /// it), and `memberId` must be a member.
    func memberError(memberId: String, groupInstanceId: String?) -> ErrorCode? {
        if let groupInstanceId {
            guard let current = staticMembers[groupInstanceId] else { return .unknownMemberId }
            if current != memberId { return .fencedInstanceId }
        }
        return members[memberId] == nil ? .unknownMemberId : nil
    }

    /// Largest rebalance timeout of the members: how long a rebalance waits for them to rejoin.
    var rebalanceTimeoutMs: Int32 {
        members.values.map(\.rebalanceTimeoutMs).max() ?? 0
    }

    var allMembersJoined: Bool {
        pendingMembers.isEmpty && members.values.allSatisfy(\.isAwaitingJoin)
    }

    func add(_ member: GroupMember) {
        if members.isEmpty { protocolType = member.protocolType }
        members[member.memberId] = member
        memberOrder.append(member.memberId)
        if let instanceId = member.groupInstanceId { staticMembers[instanceId] = member.memberId }
        if leaderId == nil { leaderId = member.memberId }
    }

    func remove(_ memberId: String) {
        guard let member = members.removeValue(forKey: memberId) else { return }
        memberOrder.removeAll { $0 == memberId }
        pendingSyncMembers.remove(memberId)
        if let instanceId = member.groupInstanceId, staticMembers[instanceId] == memberId {
            staticMembers.removeValue(forKey: instanceId)
        }
        if leaderId == memberId { leaderId = memberOrder.first }
    }

    /// Gives a static member's slot to a new member id (the instance restarted); returns the member.
    func replaceStaticMember(instanceId: String, oldMemberId: String, newMemberId: String) -> GroupMember? {
        guard let member = members.removeValue(forKey: oldMemberId) else { return nil }
        member.memberId = newMemberId
        members[newMemberId] = member
        if let index = memberOrder.firstIndex(of: oldMemberId) { memberOrder[index] = newMemberId }
        staticMembers[instanceId] = newMemberId
        if pendingSyncMembers.remove(oldMemberId) != nil { pendingSyncMembers.insert(newMemberId) }
        if leaderId == oldMemberId { leaderId = newMemberId }
        return member
    }

    /// True if a member offering `protocols` of `protocolType` can join: the type matches and at least one
    /// protocol is supported by every current member.
    func supports(protocolType: String, protocols: [GroupProtocol]) -> Bool {
        if members.isEmpty { return !protocolType.isEmpty && !protocols.isEmpty }
        guard protocolType == self.protocolType else { return false }
        let candidates = candidateProtocols
        return protocols.contains { candidates.contains($0.name) }
    }

    /// Protocols every member supports.
    var candidateProtocols: Set<String> {
        var candidates: Set<String>?
        for member in members.values {
            let names = Set(member.protocols.map(\.name))
            candidates = candidates.map { $0.intersection(names) } ?? names
        }
        return candidates ?? []
    }

    /// Kafka's vote: each member votes for its most preferred protocol among those all support; the
    /// most voted wins (ties go to the protocol the earliest member prefers).
    func selectProtocol() -> String? {
        let candidates = candidateProtocols
        var votes: [String: Int] = [:]
        var firstSeen: [String] = []
        for member in orderedMembers {
            guard let choice = member.protocols.first(where: { candidates.contains($0.name) })?.name else { continue }
            if votes[choice] == nil { firstSeen.append(choice) }
            votes[choice, default: 0] += 1
        }
        var best: String?
        for name in firstSeen where best == nil || votes[name, default: 0] > votes[best ?? "", default: 0] {
            best = name
        }
        return best
    }

    /// Recomputes `subscribedTopics` from the members' ConsumerProtocolSubscription for the selected
    /// protocol; nil if the group is not a consumer group or a subscription cannot be decoded.
    func computeSubscribedTopics() {
        guard protocolType == "consumer", let protocolName else {
            subscribedTopics = nil
            return
        }
        var topics = Set<String>()
        for member in members.values {
            var bytes = member.metadata(for: protocolName)
            guard let version = bytes.readInteger(as: Int16.self), version >= 0,
                  let subscription = try? ConsumerProtocolSubscription(
                    from: &bytes, version: min(version, ConsumerProtocolSubscription.validVersions.upperBound))
            else {
                subscribedTopics = nil
                return
            }
            topics.formUnion(subscription.topics)
        }
        subscribedTopics = topics
    }

    /// True when offsets of `topic` may be in use: the group is subscribed to it, or the group's
    /// subscriptions are unknown.
    func isSubscribed(to topic: String) -> Bool {
        subscribedTopics?.contains(topic) ?? true
    }
}

/// An offset and where its record is in the group's `__consumer_offsets` partition (see
/// `ClassicGroup.offsetPositions`): a TxnOffsetCommit's offset waiting for its transaction's marker, or an
/// offset being replayed.
struct PositionedOffset {
    var offset: CommittedOffset
    var position: Int64
}
