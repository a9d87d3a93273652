// GroupCoordinator+MovedPartitions: after a fence moved a group's offsets (`fenceAndCommit`, an alias
// swap), the moved partitions leave the assignment of every member that was in the fenced generation,
// for one generation, and a rebalance then assigns them again. Consumers that keep the positions of
// partitions they are assigned again across a rebalance (cooperative assignors of Java and librdkafka,
// kafka-python) would otherwise go on in the new target at the positions they learned in the old one;
// a partition that leaves a member's assignment is revoked (cooperative) or simply not assigned (eager),
// its position dropped, and when it comes back it is a new partition, whose position every client reads
// from the committed offsets: the translated ones (docs/decisions/0016, "Partitions leave and come back").
import KafkaProtocol
import NIOCore

/// What a fence moved and which members still hold positions from before it. Kept on the group until
/// the next fence.
struct GroupMove {
    /// The concrete topics whose offsets the fence wrote (OffsetCommit names them so after alias renaming).
    var targets: Set<String>
    /// The names an assignment may give them: the targets and the aliases that resolved to them.
    var assignmentNames: Set<String>
    /// Members of the fenced generation that have not yet been answered a SyncGroup after it: their
    /// assignment in the next generation leaves the moved partitions out.
    var pending: Set<String>
    /// Members whose assignment left moved partitions out, with that generation.
    var stripped: [String: Int32] = [:]
    /// The last generation whose assignments left moved partitions out: once it is stable and every
    /// member has its assignment, a rebalance assigns them again.
    var strippedGeneration: Int32?

    /// True while `memberId` in `generationId` may hold positions learned before the move: it was in the
    /// fenced generation and has not been answered since, or its assignment in `generationId` left the moved
    /// partitions out (its revoke-time commits carry those positions).
    func holdsOldPositions(memberId: String, generationId: Int32) -> Bool {
        pending.contains(memberId) || stripped[memberId] == generationId
    }
}

extension GroupCoordinator {
    /// Leaves the moved partitions out of the assignments of members still `pending` after a fence
    /// (called with the leader's assignments before they are stored and handed out).
    func leaveMovedPartitionsOut(_ group: ClassicGroup, _ assignments: inout [String: ByteBuffer]) {
        guard var move = group.move, !move.pending.isEmpty else { return }
        var strippedAny = false
        for memberId in move.pending {
            guard let assignment = assignments[memberId],
                  let stripped = ConsumerAssignmentFilter.removing(topics: move.assignmentNames, from: assignment) else { continue }
            assignments[memberId] = stripped
            move.stripped[memberId] = group.generationId
            strippedAny = true
        }
        if strippedAny {
            move.strippedGeneration = group.generationId
            logger.info("moved partitions left out of the assignment for one generation", metadata: [
                "group": "\(group.groupId)", "generation": "\(group.generationId)",
                "members": "\(move.stripped.filter { $0.value == group.generationId }.count)"])
        }
        group.move = move
    }

    /// `memberIds` were answered their assignment of the current generation: they no longer hold positions
    /// from before the move (or will drop them, their assignment having left them out). Once every member of
    /// a generation whose assignments left partitions out has its assignment, a rebalance assigns them again.
    func movedAssignmentsAnswered(_ group: ClassicGroup, memberIds: [String]) {
        guard var move = group.move else { return }
        for memberId in memberIds { move.pending.remove(memberId) }
        group.move = move
        if move.pending.isEmpty, group.generationId > move.strippedGeneration ?? group.fencedGeneration ?? Int32.max {
            // Done: nobody holds positions from before the move, and later generations commit as usual.
            group.move = nil
            group.fencedGeneration = nil
            return
        }
        guard group.state == .stable, group.pendingSyncMembers.isEmpty,
              move.strippedGeneration == group.generationId else { return }
        prepareRebalance(group, reason: "partitions moved by a fence are assigned again")
    }

    /// One error per entry for a member's commit after a fence: REBALANCE_IN_PROGRESS for the moved topics'
    /// partitions while the member may hold positions from before the move, nil when nothing is refused.
    func movedCommitRefusals(_ group: ClassicGroup, generationId: Int32, memberId: String,
                             entries: [OffsetCommitEntry]) -> [ErrorCode]? {
        guard let move = group.move, generationId >= 0,
              move.holdsOldPositions(memberId: memberId, generationId: generationId),
              entries.contains(where: { move.targets.contains($0.partition.topic) }) else { return nil }
        return entries.map { move.targets.contains($0.partition.topic) ? .rebalanceInProgress : .none }
    }

    /// Writes the entries not refused in `refusals` and merges the answers (in request order).
    func writeCommits(_ entries: [OffsetCommitEntry], refusing refusals: [ErrorCode], to group: ClassicGroup,
                      groupId: String, retentionTimeMs: Int64) async -> [ErrorCode] {
        let kept = entries.indices.filter { refusals[$0] == .none }
        let written = await writeCommits(kept.map { entries[$0] }, to: group, groupId: groupId, retentionTimeMs: retentionTimeMs)
        var results = refusals
        for (index, error) in zip(kept, written) { results[index] = error }
        return results
    }

    /// When a fence moved `groupId`'s offsets and `memberId` (answered SyncGroup for `generationId`) may still
    /// hold positions from before it: the group's longest rebalance timeout (how much longer to hold the
    /// moved topics for its client); nil when it does not.
    public func memberHoldsOldPositions(groupId: String, memberId: String, generationId: Int32) -> Int32? {
        guard let group = liveGroup(groupId), let move = group.move,
              move.holdsOldPositions(memberId: memberId, generationId: generationId) else { return nil }
        return group.rebalanceTimeoutMs
    }
}

extension GroupCoordinator {
    /// `memberIds` of `groupId` showed they kept positions from before a move in `targets` (their client
    /// fetched a moved partition without reading its committed offset after it was assigned afresh — a
    /// client that dropped the SyncGroup answer whose assignment left the partitions out): the moved
    /// partitions leave their assignments once more, in a rebalance started now, and come back as new ones.
    /// Their commits of the moved topics are refused meanwhile. Returns the members it applies to (those
    /// still in the group).
    public func leaveMovedPartitionsOutAgain(groupId: String, memberIds: Set<String>, targets: Set<String>,
                                             assignmentNames: Set<String>) async -> Set<String> {
        guard coordinatorError(for: groupId) == nil, let group = liveGroup(groupId), !targets.isEmpty else { return [] }
        let members = memberIds.filter { group.members[$0] != nil }
        guard !members.isEmpty else { return [] }
        var move = group.move ?? GroupMove(targets: targets, assignmentNames: targets.union(assignmentNames), pending: [])
        move.targets.formUnion(targets)
        move.assignmentNames.formUnion(targets.union(assignmentNames))
        move.pending.formUnion(members)
        group.move = move
        maybePrepareRebalance(group, reason: "a member kept positions from before a fence")
        _ = await storeGroup(group)
        return members
    }
}

/// Rewrites a ConsumerProtocolAssignment (the "consumer" protocol's SyncGroup bytes, version-prefixed).
enum ConsumerAssignmentFilter {
    /// `assignment` without the partitions of `topics`, or nil when it has none of them or is not a consumer
    /// assignment. The version, the other topics and the user data stay as they were; a version newer than
    /// this build knows is read as the newest known one, and the bytes after it (fields added later, which
    /// Kafka appends) are kept as they were.
    static func removing(topics: Set<String>, from assignment: ByteBuffer) -> ByteBuffer? {
        var reader = assignment
        guard let version = reader.readInteger(as: Int16.self), version >= 0 else { return nil }
        let known = min(version, ConsumerProtocolAssignment.validVersions.upperBound)
        guard var decoded = try? ConsumerProtocolAssignment(from: &reader, version: known) else { return nil }
        let before = decoded.assignedPartitions.count
        decoded.assignedPartitions.removeAll { topics.contains($0.topic) }
        guard decoded.assignedPartitions.count != before else { return nil }
        var out = ByteBuffer()
        out.writeInteger(version)
        guard (try? decoded.encode(to: &out, version: known)) != nil else { return nil }
        out.writeImmutableBuffer(reader)
        return out
    }
}
