// GroupCoordinator+Offsets: OffsetCommit (generation/member fencing, metadata size), OffsetFetch
// (require_stable), and offset expiry after `offsets.retention.minutes`.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Handles an OffsetCommit for a group; returns one error per entry (in request order). A negative
    /// generation commits for a group without members (admin tools, manual assignment).
    public func commitOffsets(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String?,
                              retentionTimeMs: Int64 = -1,
                              offsets entries: [OffsetCommitEntry]) async -> [ErrorCode] {
        func all(_ error: ErrorCode) -> [ErrorCode] { Array(repeating: error, count: entries.count) }
        // OffsetCommit accepts the empty group id (Kafka keeps it for old clients).
        if let error = coordinatorError(for: groupId) { return all(error) }
        let group: ClassicGroup
        switch commitTarget(groupId, generationId: generationId, fencing: {
            self.commitFencingError($0, generationId: generationId, memberId: memberId, groupInstanceId: groupInstanceId)
        }) {
        case .success(let target): group = target
        case .failure(let error): return all(error.code)
        }
        if let member = group.member(memberId) {
            // A commit is as good as a heartbeat for the session.
            member.heartbeatDeadlineMs = max(member.heartbeatDeadlineMs, now() + Int64(member.sessionTimeoutMs))
        }
        if let refusals = movedCommitRefusals(group, generationId: generationId, memberId: memberId, entries: entries) {
            return await writeCommits(entries, refusing: refusals, to: group, groupId: groupId, retentionTimeMs: retentionTimeMs)
        }
        return await writeCommits(entries, to: group, groupId: groupId, retentionTimeMs: retentionTimeMs)
    }

    /// Writes accepted commit entries to the group's `__consumer_offsets` partition and applies them;
    /// one error per entry (in request order).
    func writeCommits(_ entries: [OffsetCommitEntry], to group: ClassicGroup, groupId: String,
                      retentionTimeMs: Int64) async -> [ErrorCode] {
        let nowMs = now()
        let expireTimestamp: Int64? = retentionTimeMs >= 0 ? nowMs + retentionTimeMs : nil
        var (results, records, accepted) = offsetCommitRecords(groupId: groupId, entries: entries, nowMs: nowMs,
                                                               expireTimestampMs: expireTimestamp)
        guard !records.isEmpty else { return results }

        for item in accepted { group.pendingOffsetCommits[item.partition, default: 0] += 1 }
        let (error, position) = await appendReportingPosition(records, to: group.partition, producer: nil,
                                                              what: "offset commit", group: groupId)
        for item in accepted {
            let remaining = (group.pendingOffsetCommits[item.partition] ?? 1) - 1
            group.pendingOffsetCommits[item.partition] = remaining > 0 ? remaining : nil
        }
        for (number, item) in accepted.enumerated() {
            if let error {
                results[item.index] = error
            } else if groups[groupId] === group, group.state != .dead {
                group.applyCommittedOffset(item.offset, for: item.partition, position: position + Int64(number))
            }
        }
        return results
    }

    /// One accepted commit entry: its index in the request, partition and offset.
    typealias AcceptedCommit = (index: Int, partition: TopicPartition, offset: CommittedOffset)

    /// The records of a commit (OffsetCommit or TxnOffsetCommit): one per entry whose metadata fits (else
    /// OFFSET_METADATA_TOO_LARGE in `results`), `accepted[i]` being the entry of `records[i]`.
    func offsetCommitRecords(groupId: String, entries: [OffsetCommitEntry], nowMs: Int64, expireTimestampMs: Int64?)
        -> (results: [ErrorCode], records: [GroupLogRecord], accepted: [AcceptedCommit]) {
        var results = Array(repeating: ErrorCode.none, count: entries.count)
        var records: [GroupLogRecord] = []
        var accepted: [AcceptedCommit] = []
        for (index, entry) in entries.enumerated() {
            let metadata = entry.metadata ?? ""
            guard metadata.utf8.count <= Int(config.offsetMetadataMaxBytes) else {
                results[index] = .offsetMetadataTooLarge
                continue
            }
            let committed = CommittedOffset(offset: entry.offset, leaderEpoch: entry.leaderEpoch, metadata: metadata,
                                            commitTimestampMs: nowMs, expireTimestampMs: expireTimestampMs)
            var value = OffsetCommitValue()
            value.offset = committed.offset
            value.leaderEpoch = committed.leaderEpoch
            value.metadata = committed.metadata
            value.commitTimestamp = committed.commitTimestampMs
            value.expireTimestamp = committed.expireTimestampMs ?? -1
            do {
                records.append(GroupLogRecord(
                    key: try GroupRecordCodec.offsetCommitKey(group: groupId, topic: entry.partition.topic,
                                                              partition: entry.partition.partition),
                    value: try GroupRecordCodec.offsetCommitValue(value)))
            } catch {
                results[index] = .unknownServerError
                continue
            }
            accepted.append((index, entry.partition, committed))
        }
        return (results, records, accepted)
    }

    /// Kafka's checks for a commit to an existing group, in its order: admin commits to an empty group
    /// pass; anyone naming a member must be the current member of the current generation; anonymous
    /// commits need an empty group; members cannot commit before they have their assignment.
    /// The group an offset commit (plain or transactional) goes to: the live group once `fencing` finds
    /// nothing wrong with the committer, or — for a commit that names no generation — a new empty group,
    /// as Kafka creates for simple consumers; a generation for a group that does not exist is
    /// ILLEGAL_GENERATION.
    func commitTarget(_ groupId: String, generationId: Int32,
                      fencing: (ClassicGroup) -> ErrorCode?) -> Result<ClassicGroup, CommitRefusal> {
        if let existing = liveGroup(groupId) {
            if let error = fencing(existing) { return .failure(CommitRefusal(code: error)) }
            return .success(existing)
        }
        guard generationId < 0 else { return .failure(CommitRefusal(code: .illegalGeneration)) }
        let group = ClassicGroup(groupId: groupId, partition: partition(for: groupId), nowMs: now())
        groups[groupId] = group
        return .success(group)
    }

    func commitFencingError(_ group: ClassicGroup, generationId: Int32, memberId: String,
                                    groupInstanceId: String?) -> ErrorCode? {
        if generationId < 0 && group.state == .empty { return nil }
        if generationId >= 0 || !memberId.isEmpty || groupInstanceId != nil {
            if let error = group.memberError(memberId: memberId, groupInstanceId: groupInstanceId) { return error }
            if generationId != group.generationId { return .illegalGeneration }
        } else if group.state != .empty {
            return .unknownMemberId
        }
        if group.state == .completingRebalance { return .rebalanceInProgress }
        // A generation fenced by `fenceAndCommit` (an alias swap moved the group) commits nothing more:
        // its positions belong to the old target.
        if let fenced = group.fencedGeneration, generationId >= 0, generationId <= fenced { return .rebalanceInProgress }
        return nil
    }

    /// Handles an OffsetFetch for one group. `partitions` nil asks for every committed offset. With
    /// `requireStable`, partitions whose commit is still being written, or with a transactional offset whose
    /// transaction is still open, answer UNSTABLE_OFFSET_COMMIT (offset -1), as Kafka does per partition.
    /// Without it, the committed offset is returned; pending transactional offsets are never visible.
    public func fetchOffsets(groupId: String, partitions requested: [TopicPartition]?,
                             requireStable: Bool = false) -> OffsetFetchResult {
        if let error = coordinatorError(for: groupId) { return OffsetFetchResult(error: error, partitions: []) }
        let group = liveGroup(groupId)
        let wanted: [TopicPartition]
        if let requested {
            wanted = requested
        } else {
            wanted = (group?.offsets.keys.map { $0 } ?? []).sorted {
                ($0.topic, $0.partition) < ($1.topic, $1.partition)
            }
        }
        let answers = wanted.map { partition -> (partition: TopicPartition, offset: CommittedOffset?, error: ErrorCode) in
            if requireStable, let group,
               group.pendingOffsetCommits[partition] != nil || group.hasPendingTransactionalOffset(for: partition) {
                return (partition, nil, .unstableOffsetCommit)
            }
            return (partition, group?.offsets[partition], .none)
        }
        return OffsetFetchResult(error: .none, partitions: answers)
    }

    /// Expires offsets per Kafka's rules, writes their tombstones, and removes groups left empty with no
    /// offsets (with a group metadata tombstone).
    public func expireOffsets() async {
        let nowMs = now()
        let retentionMs = config.offsetsRetentionMs
        for group in Array(groups.values) where group.state != .dead {
            let expired = expiredOffsets(group, nowMs: nowMs, retentionMs: retentionMs)
            var records: [GroupLogRecord] = []
            for partition in expired {
                if let key = try? GroupRecordCodec.offsetCommitKey(group: group.groupId, topic: partition.topic,
                                                                   partition: partition.partition) {
                    records.append(GroupLogRecord(key: key, value: nil))
                }
                group.removeOffset(for: partition)
            }
            // A group with an open transaction stays: its pending offsets may still be committed.
            let becomesDead = group.state == .empty && group.offsets.isEmpty && group.pendingOffsetCommits.isEmpty
                && !group.hasOpenTransactions
            if becomesDead, let key = try? GroupRecordCodec.groupMetadataKey(group: group.groupId) {
                records.append(GroupLogRecord(key: key, value: nil))
                group.transition(to: .dead, nowMs: nowMs)
                groups.removeValue(forKey: group.groupId)
            }
            guard !records.isEmpty else { continue }
            logger.info("expired offsets", metadata: [
                "group": "\(group.groupId)", "offsets": "\(expired.count)", "group_removed": "\(becomesDead)"])
            _ = await append(records, to: group.partition, what: "offset expiry tombstones", group: group.groupId)
        }
    }

    private func expiredOffsets(_ group: ClassicGroup, nowMs: Int64, retentionMs: Int64) -> [TopicPartition] {
        func expired(base: (CommittedOffset) -> Int64, keeping subscribed: Set<String> = []) -> [TopicPartition] {
            group.offsets.compactMap { partition, committed in
                // Not while a commit or an open transaction's offset for the partition is pending (Kafka).
                guard !subscribed.contains(partition.topic), group.pendingOffsetCommits[partition] == nil,
                      !group.hasPendingTransactionalOffset(for: partition) else { return nil }
                if let expireAt = committed.expireTimestampMs { return nowMs >= expireAt ? partition : nil }
                return nowMs - base(committed) >= retentionMs ? partition : nil
            }
        }
        switch group.protocolType {
        case .some where group.state == .empty:
            // No members: retention counts from when the group became empty.
            return expired(base: { group.currentStateTimestampMs ?? $0.commitTimestampMs })
        case .some("consumer") where group.state == .stable:
            guard let subscribed = group.subscribedTopics else { return [] }
            // Members are active: only offsets of topics nobody subscribes to expire.
            return expired(base: { $0.commitTimestampMs }, keeping: subscribed)
        case nil:
            // Offsets only (simple consumers, admin commits): retention counts from each commit.
            return expired(base: { $0.commitTimestampMs })
        default:
            return []
        }
    }
}

/// Why an offset commit is refused before any offset is looked at (the error every partition gets).
struct CommitRefusal: Error {
    let code: ErrorCode
}
