// GroupCoordinator+Transactions: transactional offset commits (TxnOffsetCommit, KIP-98/KIP-447). Their
// records are written as the producer's transactional batch and stay pending — invisible to OffsetFetch,
// UNSTABLE_OFFSET_COMMIT with require_stable — until the broker reports the transaction's COMMIT or ABORT
// marker in the group's `__consumer_offsets` partition. Loading replays records and markers the same way.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Handles a TxnOffsetCommit for a group; returns one error per entry (in request order). The offsets
    /// are written as `producerId`/`producerEpoch`'s transactional batch and kept pending until
    /// `completeTransaction` reports the transaction's marker. A group that does not exist is created
    /// empty when `generationId` is negative (ILLEGAL_GENERATION otherwise), as in Kafka. Member checks
    /// (TxnOffsetCommit v3+) are OffsetCommit's, except that the group's state is not enforced and an
    /// anonymous commit (no member id, generation or instance id: v0-2) is accepted in any state.
    public func commitTransactionalOffsets(groupId: String, producerId: Int64, producerEpoch: Int16,
                                           generationId: Int32 = -1, memberId: String = "",
                                           groupInstanceId: String? = nil,
                                           offsets entries: [OffsetCommitEntry]) async -> [ErrorCode] {
        func all(_ error: ErrorCode) -> [ErrorCode] { Array(repeating: error, count: entries.count) }
        // Unlike OffsetCommit, TxnOffsetCommit refuses the empty group id (Kafka's INVALID_GROUP_ID).
        if let error = groupRequestError(groupId) { return all(error) }
        let group: ClassicGroup
        switch commitTarget(groupId, generationId: generationId, fencing: {
            self.transactionalCommitFencingError($0, generationId: generationId, memberId: memberId,
                                                 groupInstanceId: groupInstanceId)
        }) {
        case .success(let target): group = target
        case .failure(let error): return all(error.code)
        }
        // Transactional offsets have no retention of their own (Kafka ignores it for TxnOffsetCommit).
        var (results, records, accepted) = offsetCommitRecords(groupId: groupId, entries: entries, nowMs: now(),
                                                               expireTimestampMs: nil)
        guard !records.isEmpty else { return results }

        let key = TransactionKey(partition: group.partition, producerId: producerId)
        for item in accepted { group.pendingOffsetCommits[item.partition, default: 0] += 1 }
        transactionalWritesInFlight[key, default: 0] += 1
        let (error, position) = await appendReportingPosition(
            records, to: group.partition, producer: GroupLogProducer(producerId: producerId, producerEpoch: producerEpoch),
            what: "transactional offset commit", group: groupId)
        for item in accepted {
            let remaining = (group.pendingOffsetCommits[item.partition] ?? 1) - 1
            group.pendingOffsetCommits[item.partition] = remaining > 0 ? remaining : nil
        }
        let inFlight = (transactionalWritesInFlight[key] ?? 1) - 1
        transactionalWritesInFlight[key] = inFlight > 0 ? inFlight : nil
        if let error {
            for item in accepted { results[item.index] = error }
        } else if groups[groupId] === group, group.state != .dead {
            for (number, item) in accepted.enumerated() {
                group.pendingTransactionalOffsets[producerId, default: [:]][item.partition] =
                    PositionedOffset(offset: item.offset, position: position + Int64(number))
            }
            openTransactions[group.partition, default: [:]][producerId, default: []].insert(groupId)
        }
        if inFlight <= 0, partitions[key.partition] == .loaded { applyDeferredCompletions(key) }
        return results
    }

    /// Kafka's `validateOffsetCommit` with `isTransactional`: admin-style commits (negative generation) to
    /// an empty group pass; anyone naming a member must be the current member of the current generation;
    /// commits naming nobody (TxnOffsetCommit v0-2) pass in any state; the state is not checked
    /// (no REBALANCE_IN_PROGRESS).
    private func transactionalCommitFencingError(_ group: ClassicGroup, generationId: Int32, memberId: String,
                                                 groupInstanceId: String?) -> ErrorCode? {
        if generationId < 0 && group.state == .empty { return nil }
        guard generationId >= 0 || !memberId.isEmpty || groupInstanceId != nil else { return nil }
        if let error = group.memberError(memberId: memberId, groupInstanceId: groupInstanceId) { return error }
        return generationId != group.generationId ? .illegalGeneration : nil
    }

    /// The broker reports that the COMMIT (`commit`) or ABORT marker of `producerId`'s transaction is durable
    /// in `partition` of `__consumer_offsets`. On commit, the transaction's pending offsets in that
    /// partition's groups become committed (each one only if its record was written after the offset
    /// committed now, as in Kafka: the later write wins); on abort they are dropped. Like Kafka, the marker
    /// applies by producer id; `producerEpoch` is logged only.
    ///
    /// Call it once per marker, after the marker is durable, for every `__consumer_offsets` partition the
    /// marker was written to. A partition not coordinated here is ignored (its load reads the marker); one
    /// still loading, or with a transactional append of that producer still in flight, applies the marker
    /// once that has finished.
    public func completeTransaction(partition: Int32, producerId: Int64, producerEpoch: Int16, commit: Bool) async {
        let key = TransactionKey(partition: partition, producerId: producerId)
        switch partitions[partition] {
        case nil:
            return
        case .loading:
            deferredTransactionCompletions[key, default: []].append(commit)
        case .loaded:
            if transactionalWritesInFlight[key] != nil {
                deferredTransactionCompletions[key, default: []].append(commit)
            } else {
                applyTransactionCompletion(key, commit: commit, producerEpoch: producerEpoch)
            }
        }
    }

    /// Applies a marker: ends `key.producerId`'s open transaction in every group of the partition it has
    /// pending offsets in.
    private func applyTransactionCompletion(_ key: TransactionKey, commit: Bool, producerEpoch: Int16?) {
        let groupIds = openTransactions[key.partition]?.removeValue(forKey: key.producerId) ?? []
        if openTransactions[key.partition]?.isEmpty == true { openTransactions[key.partition] = nil }
        var applied = 0
        for groupId in groupIds {
            applied += groups[groupId]?.completeTransaction(producerId: key.producerId, commit: commit) ?? 0
        }
        guard !groupIds.isEmpty else { return }
        logger.debug(commit ? "committed transactional offsets" : "aborted transactional offsets", metadata: [
            "partition": "\(key.partition)", "producer_id": "\(key.producerId)",
            "producer_epoch": "\(producerEpoch.map { "\($0)" } ?? "-")", "groups": "\(groupIds.count)",
            "offsets_applied": "\(applied)"])
    }

    /// Applies the markers deferred for one producer's transaction in a loaded partition, in order.
    func applyDeferredCompletions(_ key: TransactionKey) {
        guard let outcomes = deferredTransactionCompletions.removeValue(forKey: key) else { return }
        for commit in outcomes { applyTransactionCompletion(key, commit: commit, producerEpoch: nil) }
    }

    /// Applies every marker deferred for `partition` (it finished loading), except those of producers
    /// whose transactional append is still in flight.
    func applyDeferredCompletions(partition: Int32) {
        for key in deferredTransactionCompletions.keys where key.partition == partition {
            guard transactionalWritesInFlight[key] == nil else { continue }
            applyDeferredCompletions(key)
        }
    }

    /// Forgets the markers deferred for `partition` (it is no longer coordinated here; its next load
    /// reads them from the log).
    func dropDeferredCompletions(partition: Int32) {
        for key in deferredTransactionCompletions.keys where key.partition == partition {
            deferredTransactionCompletions.removeValue(forKey: key)
        }
    }

    // MARK: - Inspection (tests, metrics)

    /// The producer ids with an open transaction (pending offsets) in `groupId`.
    public func openTransactionProducers(of groupId: String) -> Set<Int64> {
        Set(groups[groupId]?.pendingTransactionalOffsets.keys.map { $0 } ?? [])
    }

    /// The offset `producerId`'s open transaction would commit for `partition` of `groupId`.
    public func pendingTransactionalOffset(groupId: String, producerId: Int64,
                                           partition: TopicPartition) -> CommittedOffset? {
        groups[groupId]?.pendingTransactionalOffsets[producerId]?[partition]?.offset
    }
}

/// The replay of a `__consumer_offsets` partition's entries in log order (Kafka's
/// `OffsetMetadataManager.replay` and `replayEndTransactionMarker`): plain offset records are committed,
/// transactional ones pend per producer until its marker, tombstones remove the committed offset and every
/// pending one of the key.
struct OffsetReplay {
    var metadata: [String: GroupMetadataValue] = [:]
    var offsets: [String: [TopicPartition: PositionedOffset]] = [:]
    /// Per group, per open transaction (producer id), the pending offsets.
    var pending: [String: [Int64: [TopicPartition: PositionedOffset]]] = [:]
    /// Per producer id, the groups it has pending offsets in.
    var openGroups: [Int64: Set<String>] = [:]

    mutating func commit(_ offset: CommittedOffset, group: String, partition: TopicPartition, producerId: Int64?,
                         position: Int64) {
        let entry = PositionedOffset(offset: offset, position: position)
        if let producerId {
            pending[group, default: [:]][producerId, default: [:]][partition] = entry
            openGroups[producerId, default: []].insert(group)
        } else {
            offsets[group, default: [:]][partition] = entry
        }
    }

    mutating func tombstone(group: String, partition: TopicPartition) {
        offsets[group]?.removeValue(forKey: partition)
        for producerId in pending[group]?.keys.map({ $0 }) ?? [] {
            pending[group]?[producerId]?.removeValue(forKey: partition)
        }
    }

    mutating func completeTransaction(producerId: Int64, commit: Bool) {
        for group in openGroups.removeValue(forKey: producerId) ?? [] {
            guard let entries = pending[group]?.removeValue(forKey: producerId) else { continue }
            if pending[group]?.isEmpty == true { pending[group] = nil }
            guard commit else { continue }
            for (partition, entry) in entries where entry.position > offsets[group]?[partition]?.position ?? Int64.min {
                offsets[group, default: [:]][partition] = entry
            }
        }
    }
}
