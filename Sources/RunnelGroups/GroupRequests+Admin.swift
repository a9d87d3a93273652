// GroupRequests+Admin: DescribeGroups, ListGroups and DeleteGroups at the request level.
import KafkaProtocol
import NIOCore

extension GroupRequests {
    /// Answers DescribeGroups (v6 reports unknown groups as GROUP_ID_NOT_FOUND, older versions as Dead).
    public func describeGroups(_ request: DescribeGroupsRequest, version: Int16) async -> DescribeGroupsResponse {
        var response = DescribeGroupsResponse()
        for groupId in request.groups {
            let description = await coordinator.describeGroup(groupId)
            var group = DescribeGroupsResponse.DescribedGroup()
            group.groupId = groupId
            group.errorCode = description.error.rawValue
            group.groupState = description.state.rawValue
            group.protocolType = description.protocolType
            group.protocolData = description.protocolName
            if version >= 6 && description.error == .none && description.state == .dead {
                group.errorCode = ErrorCode.groupIdNotFound.rawValue
                group.errorMessage = "Group \(groupId) not found."
            } else if version >= 6 && description.error != .none {
                group.errorMessage = description.error.message
            }
            group.members = description.members.map { member in
                var entry = DescribeGroupsResponse.DescribedGroupMember()
                entry.memberId = member.memberId
                entry.groupInstanceId = version >= 4 ? member.groupInstanceId : nil
                entry.clientId = member.clientId
                entry.clientHost = member.clientHost
                entry.memberMetadata = member.metadata
                entry.memberAssignment = member.assignment
                return entry
            }
            response.groups.append(group)
        }
        return response
    }

    /// Answers ListGroups with the state (v4+) and type (v5+) filters; every group here is "classic".
    public func listGroups(_ request: ListGroupsRequest, version: Int16) async -> ListGroupsResponse {
        var response = ListGroupsResponse()
        let types = version >= 5 ? Set(request.typesFilter.map { $0.lowercased() }) : []
        if !types.isEmpty && !types.contains("classic") { return response }
        let result = await coordinator.listGroups(states: version >= 4 ? request.statesFilter : [])
        response.errorCode = result.error.rawValue
        response.groups = result.groups.map { listing in
            var entry = ListGroupsResponse.ListedGroup()
            entry.groupId = listing.groupId
            entry.protocolType = listing.protocolType
            if version >= 4 { entry.groupState = listing.state.rawValue }
            if version >= 5 { entry.groupType = "classic" }
            return entry
        }
        return response
    }

    /// Answers DeleteGroups.
    public func deleteGroups(_ request: DeleteGroupsRequest, version: Int16) async -> DeleteGroupsResponse {
        let errors = await coordinator.deleteGroups(request.groupsNames)
        var response = DeleteGroupsResponse()
        response.results = zip(request.groupsNames, errors).map { groupId, error in
            var entry = DeleteGroupsResponse.DeletableGroupResult()
            entry.groupId = groupId
            entry.errorCode = error.rawValue
            return entry
        }
        return response
    }
}
