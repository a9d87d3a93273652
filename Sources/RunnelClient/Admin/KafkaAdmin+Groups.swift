// Consumer group administration: list, describe (members and assignments), committed offsets and lag,
// reset offsets of a stopped group, delete.
import KafkaProtocol

/// A group as ListGroups reports it.
public struct GroupListing: Sendable, Codable, Equatable {
    public var groupId: String
    public var protocolType: String
    public var state: String?
    public var type: String?
}

/// A member of a group and the partitions assigned to it.
public struct GroupMemberDescription: Sendable, Codable {
    public var memberId: String
    public var groupInstanceId: String?
    public var clientId: String
    public var clientHost: String
    public var assignment: [TopicPartition]
}

/// A group's state, protocol and members.
public struct GroupDescription: Sendable, Codable {
    public var groupId: String
    public var state: String
    public var protocolType: String
    public var protocolName: String
    public var members: [GroupMemberDescription]
}

/// The committed offset of one partition and how far it lags behind the log end offset.
public struct GroupPartitionOffset: Sendable, Codable {
    public var topic: String
    public var partition: Int32
    /// -1 when the group has no committed offset for the partition.
    public var committedOffset: Int64
    public var logEndOffset: Int64
    /// logEndOffset - committedOffset, or nil without a committed offset.
    public var lag: Int64?
    /// The member the partition is assigned to, if any.
    public var memberId: String?
}

extension KafkaAdmin {
    /// Every group on every broker, sorted by id.
    public func listGroups() async throws -> [GroupListing] {
        let metadata = try await client.refreshMetadata(topics: [])
        var groups: [String: GroupListing] = [:]
        for broker in metadata.brokers.values {
            let connection = try await client.connection(to: broker.address)
            let version = try connection.version(for: .listGroups)
            var request = ListGroupsRequest()
            if version >= 4 { request.statesFilter = [] }
            if version >= 5 { request.typesFilter = [] }
            let response = try await connection.send(request, version: version)
            try KafkaClientError.check(response.errorCode, "list groups on broker \(broker.nodeId)")
            for group in response.groups {
                groups[group.groupId] = GroupListing(groupId: group.groupId, protocolType: group.protocolType,
                                                     state: version >= 4 ? group.groupState : nil,
                                                     type: version >= 5 ? group.groupType : nil)
            }
        }
        return groups.values.sorted { $0.groupId < $1.groupId }
    }

    /// State, protocol and members (with their assignments) of `group`.
    public func describeGroup(_ group: String) async throws -> GroupDescription {
        let connection = try await client.coordinatorConnection(group: group)
        var request = DescribeGroupsRequest()
        request.groups = [group]
        request.includeAuthorizedOperations = false
        let response = try await connection.send(request)
        guard let described = response.groups.first else {
            throw KafkaClientError.protocolError("DescribeGroups returned nothing for '\(group)'")
        }
        try KafkaClientError.check(described.errorCode, "describe group '\(group)'", message: described.errorMessage)
        if described.groupState == "Dead" {
            throw KafkaClientError.broker(code: .groupIdNotFound, context: "describe group '\(group)'", message: "no such group")
        }
        let members = described.members.map { member in
            GroupMemberDescription(
                memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                clientHost: member.clientHost,
                assignment: described.protocolType == ConsumerProtocol.protocolType
                    ? (ConsumerProtocol.decodeAssignment(member.memberAssignment) ?? []).sorted() : [])
        }
        return GroupDescription(groupId: described.groupId, state: described.groupState,
                                protocolType: described.protocolType, protocolName: described.protocolData,
                                members: members.sorted { $0.memberId < $1.memberId })
    }

    /// Committed offsets, log end offsets and lag of every partition the group has offsets for or is
    /// assigned.
    public func groupOffsets(_ group: String, description: GroupDescription? = nil) async throws -> [GroupPartitionOffset] {
        let committed = try await client.committedOffsets(group: group)
        var owners: [TopicPartition: String] = [:]
        for member in description?.members ?? [] {
            for topicPartition in member.assignment { owners[topicPartition] = member.memberId }
        }
        let all = Set(committed.keys).union(owners.keys)
        var endOffsets: [TopicPartition: Int64] = [:]
        for topic in Set(all.map(\.topic)) {
            let partitions = all.filter { $0.topic == topic }.map(\.partition)
            if let offsets = try? await listOffsets(topic: topic, partitions: partitions, spec: .latest) {
                for offset in offsets { endOffsets[TopicPartition(topic: topic, partition: offset.partition)] = offset.offset }
            }
        }
        return all.sorted().map { topicPartition in
            let offset = committed[topicPartition] ?? -1
            let end = endOffsets[topicPartition] ?? -1
            return GroupPartitionOffset(topic: topicPartition.topic, partition: topicPartition.partition,
                                        committedOffset: offset, logEndOffset: end,
                                        lag: offset >= 0 && end >= 0 ? Swift.max(0, end - offset) : nil,
                                        memberId: owners[topicPartition])
        }
    }

    /// Sets the committed offsets of a group that has no active members.
    public func resetGroupOffsets(_ group: String, offsets: [TopicPartition: Int64]) async throws {
        let description = try? await describeGroup(group)
        if let description, !description.members.isEmpty {
            throw KafkaClientError.broker(code: .nonEmptyGroup, context: "seek group '\(group)'",
                                          message: "it has \(description.members.count) active member(s)")
        }
        try await client.commitOffsets(group: group, offsets: offsets)
    }

    /// Deletes groups (they must have no active members).
    public func deleteGroups(_ groups: [String]) async throws {
        for group in groups {
            let connection = try await client.coordinatorConnection(group: group)
            var request = DeleteGroupsRequest()
            request.groupsNames = [group]
            let response = try await connection.send(request)
            for result in response.results {
                try KafkaClientError.check(result.errorCode, "delete group '\(result.groupId)'")
            }
        }
    }
}
