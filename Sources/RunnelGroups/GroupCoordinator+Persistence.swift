// GroupCoordinator+Persistence: writing group metadata records, loading a `__consumer_offsets`
// partition into groups and offsets, and unloading a partition (cluster leadership moves).
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// The GroupMetadataValue for `group`, with `assignments` (default: the members' current ones).
    func metadataValue(_ group: ClassicGroup, assignments: [String: ByteBuffer]? = nil) -> GroupMetadataValue {
        var value = GroupMetadataValue()
        value.protocolType = group.protocolType ?? ""
        value.generation = group.generationId
        value.protocol = group.protocolName
        value.leader = group.leaderId
        value.currentStateTimestamp = group.currentStateTimestampMs ?? -1
        value.members = group.orderedMembers.map { member in
            var entry = GroupMetadataValue.MemberMetadata()
            entry.memberId = member.memberId
            entry.groupInstanceId = member.groupInstanceId
            entry.clientId = member.clientId
            entry.clientHost = member.clientHost
            entry.rebalanceTimeout = member.rebalanceTimeoutMs
            entry.sessionTimeout = member.sessionTimeoutMs
            entry.subscription = member.metadata(for: group.protocolName)
            entry.assignment = assignments?[member.memberId] ?? member.assignment
            return entry
        }
        value.unknownTaggedFields = fenceTaggedFields(group)
        return value
    }

    /// Writes the group's metadata record; returns the error to answer with, or nil once durable.
    func storeGroup(_ group: ClassicGroup, assignments: [String: ByteBuffer]? = nil) async -> ErrorCode? {
        let record: GroupLogRecord
        do {
            record = GroupLogRecord(key: try GroupRecordCodec.groupMetadataKey(group: group.groupId),
                                    value: try GroupRecordCodec.groupMetadataValue(metadataValue(group, assignments: assignments)))
        } catch {
            logger.error("cannot encode group metadata", metadata: ["group": "\(group.groupId)", "error": "\(error)"])
            return .unknownServerError
        }
        return await append([record], to: group.partition, what: "group metadata", group: group.groupId)
    }

    /// Stores the group's metadata without making anyone wait for it (a group that became empty).
    func persistInBackground(_ group: ClassicGroup) {
        let groupId = group.groupId
        guard let record = try? GroupLogRecord(
            key: GroupRecordCodec.groupMetadataKey(group: groupId),
            value: GroupRecordCodec.groupMetadataValue(metadataValue(group))) else { return }
        let partition = group.partition
        Task { _ = await self.append([record], to: partition, what: "group metadata", group: groupId) }
    }

    /// Appends records to a partition; maps a failure to the error code a client should see.
    func append(_ records: [GroupLogRecord], to partition: Int32, what: String, group: String) async -> ErrorCode? {
        await appendReportingPosition(records, to: partition, producer: nil, what: what, group: group).error
    }

    /// Appends records to a partition (as `producer`'s transactional batch when given); returns the error a
    /// client should see, or nil once durable, and the log position of the first record (the records that
    /// follow have the next positions). Positions are taken before the store is called, on the actor, so
    /// they follow the store's (call) order.
    func appendReportingPosition(_ records: [GroupLogRecord], to partition: Int32, producer: GroupLogProducer?,
                                 what: String, group: String) async -> (error: ErrorCode?, position: Int64) {
        let position = nextLogPosition[partition] ?? 0
        nextLogPosition[partition] = position + Int64(records.count)
        do {
            try await store.append(partition: partition, records: records, producer: producer)
            return (nil, position)
        } catch {
            logger.warning("could not write to __consumer_offsets", metadata: [
                "group": "\(group)", "records": "\(what)", "partition": "\(partition)", "error": "\(error)",
                "producer": "\(producer.map { "\($0)" } ?? "none")"])
            return (error.errorCode, position)
        }
    }

    /// Loads every partition of `__consumer_offsets` (a single node coordinates all groups); returns
    /// what was loaded.
    @discardableResult
    public func loadAllPartitions() async throws(GroupLogStoreError) -> GroupLoadSummary {
        var summary = GroupLoadSummary()
        for partition in 0..<config.offsetsTopicPartitions {
            summary.add(try await loadPartitionReporting(partition))
        }
        return summary
    }

    /// Becomes coordinator of `partition`: replays its records into groups and offsets. Requests for its
    /// groups get COORDINATOR_LOAD_IN_PROGRESS until this returns.
    public func loadPartition(_ partition: Int32) async throws(GroupLogStoreError) {
        _ = try await loadPartitionReporting(partition)
    }

    /// `loadPartition(_:)`, returning what was loaded (nothing when the partition was already loaded or
    /// loading).
    func loadPartitionReporting(_ partition: Int32) async throws(GroupLogStoreError) -> GroupLoadSummary {
        guard partitions[partition] == nil else { return GroupLoadSummary() }
        partitions[partition] = .loading
        let entries: [GroupLogEntry]
        do {
            entries = try await store.load(partition: partition)
        } catch {
            partitions[partition] = nil
            dropDeferredCompletions(partition: partition)
            throw error
        }
        var replay = OffsetReplay()
        var skipped = 0
        var records = 0
        for (index, entry) in entries.enumerated() {
            let position = Int64(index)
            let record: GroupLogRecord
            let producerId: Int64?
            switch entry {
            case .transactionMarker(let markerProducer, _, let commit):
                replay.completeTransaction(producerId: markerProducer, commit: commit)
                continue
            case .record(let data, let dataProducer):
                record = data
                producerId = dataProducer
                records += 1
            }
            switch try? GroupRecordCodec.decode(record) {
            case .offsetCommit(let key, let value)?:
                let topicPartition = TopicPartition(topic: key.topic, partition: key.partition)
                if let value {
                    let committed = CommittedOffset(
                        offset: value.offset, leaderEpoch: value.leaderEpoch, metadata: value.metadata,
                        commitTimestampMs: value.commitTimestamp,
                        expireTimestampMs: value.expireTimestamp == -1 ? nil : value.expireTimestamp)
                    replay.commit(committed, group: key.group, partition: topicPartition, producerId: producerId,
                                  position: position)
                } else {
                    replay.tombstone(group: key.group, partition: topicPartition)
                }
            case .groupMetadata(let key, let value)?:
                replay.metadata[key.group] = value
            case .other?:
                continue
            case nil:
                skipped += 1
            }
        }
        nextLogPosition[partition] = Int64(entries.count)
        var partitionTransactions: [Int64: Set<String>] = [:]
        var pendingTransactionalOffsets = 0
        let nowMs = now()
        var loaded = 0
        var restoredOffsets = 0
        for groupId in Set(replay.metadata.keys).union(replay.offsets.keys).union(replay.pending.keys) {
            let groupOffsets = replay.offsets[groupId] ?? [:]
            let groupPending = replay.pending[groupId] ?? [:]
            let value = replay.metadata[groupId] ?? nil
            // A group with pending transactional offsets exists even without committed ones (Kafka creates
            // it on replay); open transactions whose offsets tombstones removed do not bring a group back.
            let hasPendingOffsets = groupPending.values.contains { !$0.isEmpty }
            guard value != nil || !groupOffsets.isEmpty || hasPendingOffsets else { continue }
            let group = ClassicGroup(groupId: groupId, partition: partition, nowMs: nil)
            if let value { restore(group, from: value, nowMs: nowMs) }
            for (topicPartition, entry) in groupOffsets {
                group.setOffset(entry.offset, for: topicPartition, position: entry.position)
            }
            group.pendingTransactionalOffsets = groupPending
            for (producerId, offsets) in groupPending {
                partitionTransactions[producerId, default: []].insert(groupId)
                pendingTransactionalOffsets += offsets.count
            }
            groups[groupId] = group
            loaded += 1
            restoredOffsets += groupOffsets.count
            if group.size > Int(config.maxSize) {
                // group.max.size was lowered: rebalance so the members learn, and commit, before some go.
                prepareRebalance(group, reason: "loaded group is over group.max.size \(config.maxSize)")
            }
        }
        openTransactions[partition] = partitionTransactions.isEmpty ? nil : partitionTransactions
        partitions[partition] = .loaded
        if skipped > 0 {
            logger.warning("skipped undecodable __consumer_offsets records", metadata: [
                "partition": "\(partition)", "records": "\(records)", "undecodable_records": "\(skipped)"])
        } else if loaded > 0 {
            logger.debug("loaded __consumer_offsets partition", metadata: [
                "partition": "\(partition)", "records": "\(records)", "groups": "\(loaded)",
                "open_transactions": "\(partitionTransactions.count)"])
        }
        // Markers the broker reported while this partition loaded (a repeat of one the load already read
        // finds nothing pending and changes nothing).
        applyDeferredCompletions(partition: partition)
        var summary = GroupLoadSummary()
        summary.partitions = 1
        summary.records = records
        summary.groups = loaded
        summary.offsets = restoredOffsets
        summary.undecodableRecords = skipped
        summary.pendingTransactionalOffsets = pendingTransactionalOffsets
        return summary
    }

    private func restore(_ group: ClassicGroup, from value: GroupMetadataValue, nowMs: Int64) {
        group.protocolType = value.protocolType.isEmpty ? nil : value.protocolType
        group.generationId = value.generation
        group.protocolName = value.protocol
        for entry in value.members {
            let member = GroupMember(
                memberId: entry.memberId, groupInstanceId: entry.groupInstanceId, clientId: entry.clientId,
                clientHost: entry.clientHost,
                rebalanceTimeoutMs: entry.rebalanceTimeout == -1 ? entry.sessionTimeout : entry.rebalanceTimeout,
                sessionTimeoutMs: entry.sessionTimeout, protocolType: value.protocolType,
                protocols: [GroupProtocol(name: value.protocol ?? "", metadata: entry.subscription)],
                heartbeatDeadlineMs: nowMs + Int64(entry.sessionTimeout))
            member.isNew = false
            member.assignment = entry.assignment
            group.add(member)
        }
        group.protocolType = value.protocolType.isEmpty ? nil : value.protocolType
        group.leaderId = value.leader.flatMap { group.has($0) ? $0 : nil } ?? group.orderedMembers.first?.memberId
        group.transition(to: group.isEmpty ? .empty : .stable, nowMs: nowMs)
        group.restoreStateTimestamp(value.currentStateTimestamp == -1 ? nil : value.currentStateTimestamp)
        group.computeSubscribedTopics()
        restoreFence(group, from: value)
    }

    /// Stops coordinating `partition` (leadership moved): parked requests get NOT_COORDINATOR.
    public func unloadPartition(_ partition: Int32) {
        partitions[partition] = nil
        nextLogPosition[partition] = nil
        openTransactions[partition] = nil
        dropDeferredCompletions(partition: partition)
        for (groupId, group) in groups where group.partition == partition {
            for member in group.orderedMembers {
                member.completeJoin(.failure(.notCoordinator, memberId: member.memberId))
                member.completeSync(.failure(.notCoordinator))
            }
            groups.removeValue(forKey: groupId)
        }
    }
}
