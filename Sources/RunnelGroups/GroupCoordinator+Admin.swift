// GroupCoordinator+Admin: DescribeGroups, ListGroups, DeleteGroups and OffsetDelete.
import KafkaProtocol
import NIOCore

extension GroupCoordinator {
    /// Describes a group. A group that does not exist is reported as Dead (DescribeGroups v6 turns that
    /// into GROUP_ID_NOT_FOUND at the request layer).
    public func describeGroup(_ groupId: String) -> GroupDescription {
        func dead(_ error: ErrorCode) -> GroupDescription {
            GroupDescription(error: error, groupId: groupId, state: .dead, protocolType: "", protocolName: "", members: [])
        }
        if let error = coordinatorError(for: groupId) { return dead(error) }
        guard let group = liveGroup(groupId) else { return dead(.none) }
        let isStable = group.state == .stable
        let members = group.orderedMembers.map { member in
            GroupDescription.Member(
                memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                clientHost: member.clientHost,
                // Kafka shows subscriptions and assignments only once the group is stable.
                metadata: isStable ? member.metadata(for: group.protocolName) : ByteBuffer(),
                assignment: isStable ? member.assignment : ByteBuffer())
        }
        return GroupDescription(error: .none, groupId: groupId, state: group.state,
                                protocolType: group.protocolType ?? "",
                                protocolName: isStable ? group.protocolName ?? "" : "", members: members)
    }

    /// Lists the groups this coordinator holds, optionally only those in `states` (case-insensitive names,
    /// empty = all). Fails with COORDINATOR_LOAD_IN_PROGRESS while a partition loads.
    public func listGroups(states: [String] = []) -> (error: ErrorCode, groups: [GroupListing]) {
        let loading = partitions.values.contains { if case .loading = $0 { true } else { false } }
        let wanted = Set(states.map { $0.lowercased() })
        let listed = groups.values
            .filter { $0.state != .dead && (wanted.isEmpty || wanted.contains($0.state.rawValue.lowercased())) }
            .map { GroupListing(groupId: $0.groupId, protocolType: $0.protocolType ?? "", state: $0.state) }
            .sorted { $0.groupId < $1.groupId }
        return (loading ? .coordinatorLoadInProgress : .none, listed)
    }

    /// Deletes groups that have no members: tombstones for their offsets and metadata. Returns one error
    /// per group id, in request order.
    public func deleteGroups(_ groupIds: [String]) async -> [ErrorCode] {
        var results: [ErrorCode] = []
        for groupId in groupIds {
            // DeleteGroups accepts the empty group id, like OffsetCommit, so its offsets can be removed.
            if let error = coordinatorError(for: groupId) {
                results.append(error)
                continue
            }
            guard let group = liveGroup(groupId) else {
                results.append(.groupIdNotFound)
                continue
            }
            guard group.state == .empty else {
                results.append(.nonEmptyGroup)
                continue
            }
            var records: [GroupLogRecord] = []
            // Tombstones for the committed offsets and, as Kafka writes them, for partitions that only have
            // an open transaction's pending offset: replaying them drops those pending offsets too.
            let pendingOnly = group.pendingTransactionalPartitions.subtracting(group.offsets.keys)
                .sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
            for partition in Array(group.offsets.keys) + pendingOnly {
                if let key = try? GroupRecordCodec.offsetCommitKey(group: groupId, topic: partition.topic,
                                                                   partition: partition.partition) {
                    records.append(GroupLogRecord(key: key, value: nil))
                }
            }
            if let key = try? GroupRecordCodec.groupMetadataKey(group: groupId) {
                records.append(GroupLogRecord(key: key, value: nil))
            }
            // Mark it dead first, so nothing joins or commits while the tombstones are written.
            group.transition(to: .dead, nowMs: now())
            let error = await append(records, to: group.partition, what: "group deletion tombstones", group: groupId)
            if let error {
                // The records are not durable: the group stays as it was.
                group.transition(to: .empty, nowMs: now())
                results.append(error)
                continue
            }
            if groups[groupId] === group { groups.removeValue(forKey: groupId) }
            logger.info("deleted group", metadata: ["group": "\(groupId)", "offsets": "\(group.offsets.count)"])
            results.append(.none)
        }
        return results
    }

    /// Deletes committed offsets of a group (OffsetDelete). Offsets of topics the group's members
    /// subscribe to answer GROUP_SUBSCRIBED_TO_TOPIC; a non-consumer group with members answers
    /// NON_EMPTY_GROUP. Returns the group-level error and one error per partition.
    public func deleteOffsets(groupId: String,
                              partitions requested: [TopicPartition]) async -> (error: ErrorCode, partitions: [ErrorCode]) {
        if let error = groupRequestError(groupId) { return (error, []) }
        guard let group = liveGroup(groupId) else { return (.groupIdNotFound, []) }
        if group.state != .empty && group.protocolType != "consumer" { return (.nonEmptyGroup, []) }
        var results: [ErrorCode] = []
        var records: [GroupLogRecord] = []
        var deleted: [TopicPartition] = []
        for partition in requested {
            if group.state != .empty && group.isSubscribed(to: partition.topic) {
                results.append(.groupSubscribedToTopic)
                continue
            }
            results.append(.none)
            // A tombstone when an offset is committed or an open transaction has one pending (Kafka).
            guard group.offsets[partition] != nil || group.hasPendingTransactionalOffset(for: partition),
                  let key = try? GroupRecordCodec.offsetCommitKey(group: groupId, topic: partition.topic,
                                                                  partition: partition.partition) else { continue }
            records.append(GroupLogRecord(key: key, value: nil))
            deleted.append(partition)
        }
        guard !records.isEmpty else { return (.none, results) }
        if let error = await append(records, to: group.partition, what: "offset deletion tombstones", group: groupId) {
            return (error, [])
        }
        for partition in deleted { group.applyOffsetTombstone(for: partition) }
        return (.none, results)
    }
}
