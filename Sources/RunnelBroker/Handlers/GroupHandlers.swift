// GroupHandlers: the broker's entry points for the consumer group APIs. Each decodes nothing and decides
// nothing: it hands the request to `GroupRequests` (Groups/) and bridges the async answer to a future.
import KafkaProtocol
import NIOCore

extension BrokerCore {
    func findCoordinator(_ request: FindCoordinatorRequest,
                         _ context: HandlerRequest) -> HandlerResult<FindCoordinatorResponse> {
        .now(groupRequests.findCoordinator(request, version: context.version))
    }

    func joinGroup(_ request: JoinGroupRequest, _ context: HandlerRequest) -> HandlerResult<JoinGroupResponse> {
        let version = context.version
        let clientId = context.header.clientId ?? ""
        // Kafka shows the client host as "/<ip>".
        let clientHost = context.context.clientAddress?.ipAddress.map { "/\($0)" } ?? ""
        return groupAnswer(context) { [groupRequests] in
            await groupRequests.joinGroup(request, version: version, clientId: clientId, clientHost: clientHost)
        }
    }

    func syncGroup(_ request: SyncGroupRequest, _ context: HandlerRequest) -> HandlerResult<SyncGroupResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.syncGroup(request, version: version) }
    }

    func heartbeat(_ request: HeartbeatRequest, _ context: HandlerRequest) -> HandlerResult<HeartbeatResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.heartbeat(request, version: version) }
    }

    func leaveGroup(_ request: LeaveGroupRequest, _ context: HandlerRequest) -> HandlerResult<LeaveGroupResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.leaveGroup(request, version: version) }
    }

    func offsetCommit(_ request: OffsetCommitRequest, _ context: HandlerRequest) -> HandlerResult<OffsetCommitResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.offsetCommit(request, version: version) }
    }

    func offsetFetch(_ request: OffsetFetchRequest, _ context: HandlerRequest) -> HandlerResult<OffsetFetchResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.offsetFetch(request, version: version) }
    }

    func describeGroups(_ request: DescribeGroupsRequest,
                        _ context: HandlerRequest) -> HandlerResult<DescribeGroupsResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.describeGroups(request, version: version) }
    }

    func listGroups(_ request: ListGroupsRequest, _ context: HandlerRequest) -> HandlerResult<ListGroupsResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.listGroups(request, version: version) }
    }

    func deleteGroups(_ request: DeleteGroupsRequest, _ context: HandlerRequest) -> HandlerResult<DeleteGroupsResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.deleteGroups(request, version: version) }
    }

    func offsetDelete(_ request: OffsetDeleteRequest, _ context: HandlerRequest) -> HandlerResult<OffsetDeleteResponse> {
        let version = context.version
        return groupAnswer(context) { [groupRequests] in await groupRequests.offsetDelete(request, version: version) }
    }

    /// Runs a group call (which may wait for a rebalance) off the event loop, after the connection's
    /// earlier group calls have finished (Kafka's one-request-at-a-time per connection); answers on the loop.
    private func groupAnswer<Response: Sendable>(
        _ context: HandlerRequest, _ body: @escaping @Sendable () async -> Response
    ) -> HandlerResult<Response> {
        .later(context.context.lane.submit(on: context.eventLoop, body))
    }
}
