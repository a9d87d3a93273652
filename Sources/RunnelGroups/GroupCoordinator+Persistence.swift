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
        do {
            try await store.append(partition: partition, records: records)
            return nil
        } catch {
            logger.warning("could not write to __consumer_offsets", metadata: [
                "group": "\(group)", "records": "\(what)", "partition": "\(partition)", "error": "\(error)"])
            return error.errorCode
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
        let records: [GroupLogRecord]
        do {
            records = try await store.load(partition: partition)
        } catch {
            partitions[partition] = nil
            throw error
        }
        var metadata: [String: GroupMetadataValue] = [:]
        var offsets: [String: [TopicPartition: CommittedOffset]] = [:]
        var skipped = 0
        for record in records {
            switch try? GroupRecordCodec.decode(record) {
            case .offsetCommit(let key, let value)?:
                let topicPartition = TopicPartition(topic: key.topic, partition: key.partition)
                if let value {
                    offsets[key.group, default: [:]][topicPartition] = CommittedOffset(
                        offset: value.offset, leaderEpoch: value.leaderEpoch, metadata: value.metadata,
                        commitTimestampMs: value.commitTimestamp,
                        expireTimestampMs: value.expireTimestamp == -1 ? nil : value.expireTimestamp)
                } else {
                    offsets[key.group]?.removeValue(forKey: topicPartition)
                }
            case .groupMetadata(let key, let value)?:
                metadata[key.group] = value
            case .other?:
                continue
            case nil:
                skipped += 1
            }
        }
        let nowMs = now()
        var loaded = 0
        var restoredOffsets = 0
        for groupId in Set(metadata.keys).union(offsets.keys) {
            let groupOffsets = offsets[groupId] ?? [:]
            let value = metadata[groupId] ?? nil
            guard value != nil || !groupOffsets.isEmpty else { continue }
            let group = ClassicGroup(groupId: groupId, partition: partition, nowMs: nil)
            if let value { restore(group, from: value, nowMs: nowMs) }
            group.offsets = groupOffsets
            groups[groupId] = group
            loaded += 1
            restoredOffsets += groupOffsets.count
            if group.size > Int(config.maxSize) {
                // group.max.size was lowered: rebalance so the members learn, and commit, before some go.
                prepareRebalance(group, reason: "loaded group is over group.max.size \(config.maxSize)")
            }
        }
        partitions[partition] = .loaded
        if skipped > 0 {
            logger.warning("skipped undecodable __consumer_offsets records", metadata: [
                "partition": "\(partition)", "records": "\(records.count)", "undecodable_records": "\(skipped)"])
        } else if loaded > 0 {
            logger.debug("loaded __consumer_offsets partition", metadata: [
                "partition": "\(partition)", "records": "\(records.count)", "groups": "\(loaded)"])
        }
        var summary = GroupLoadSummary()
        summary.partitions = 1
        summary.records = records.count
        summary.groups = loaded
        summary.offsets = restoredOffsets
        summary.undecodableRecords = skipped
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
    }

    /// Stops coordinating `partition` (leadership moved): parked requests get NOT_COORDINATOR.
    public func unloadPartition(_ partition: Int32) {
        partitions[partition] = nil
        for (groupId, group) in groups where group.partition == partition {
            for member in group.orderedMembers {
                member.completeJoin(.failure(.notCoordinator, memberId: member.memberId))
                member.completeSync(.failure(.notCoordinator))
            }
            groups.removeValue(forKey: groupId)
        }
    }
}
