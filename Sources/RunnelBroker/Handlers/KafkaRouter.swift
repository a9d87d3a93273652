// Routes a request frame to its handler: header decoding, version checks, response encoding.
import KafkaProtocol
import Logging
import NIOCore
import RunnelGroups
import RunnelTransactions

/// Why a connection is closed instead of answered (Kafka closes on unparseable or unsupported requests).
enum RouterError: Error, CustomStringConvertible {
    case unsupportedApi(apiKey: Int16, version: Int16)
    case malformedRequest(apiKey: Int16, version: Int16, reason: String)
    case encodingFailed(api: String, reason: String)

    var description: String {
        switch self {
        case .unsupportedApi(let key, let version): "unsupported API key \(key) version \(version)"
        case .malformedRequest(let key, let version, let reason): "malformed request (API key \(key) v\(version)): \(reason)"
        case .encodingFailed(let api, let reason): "could not encode \(api) response: \(reason)"
        }
    }
}

/// The broker's `RequestRouter`: one entry point per API family, each in its own handler file.
final class KafkaRouter: RequestRouter {
    let broker: BrokerCore

    init(broker: BrokerCore) {
        self.broker = broker
    }

    func route(_ frame: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        let loop = context.eventLoop
        let apiKey = ApiKey(rawValue: frame.apiKey)
        guard let range = SupportedApis.range(of: apiKey) else {
            context.logger.warning("closing connection: unsupported API",
                                   metadata: ["api_key": "\(frame.apiKey)", "version": "\(frame.apiVersion)"])
            return loop.makeFailedFuture(RouterError.unsupportedApi(apiKey: frame.apiKey, version: frame.apiVersion))
        }
        guard range.contains(frame.apiVersion) else {
            if apiKey == .apiVersions {
                return loop.makeSucceededFuture(unsupportedApiVersionsReply(frame, context: context))
            }
            context.logger.warning("closing connection: unsupported API version",
                                   metadata: ["api": "\(apiKey.name)", "version": "\(frame.apiVersion)",
                                              "supported": "\(range.lowerBound)-\(range.upperBound)"])
            return loop.makeFailedFuture(RouterError.unsupportedApi(apiKey: frame.apiKey, version: frame.apiVersion))
        }
        var body = frame.buffer
        let header: RequestHeader
        do {
            header = try RequestHeader(
                from: &body, headerVersion: RequestHeader.headerVersion(apiKey: frame.apiKey, apiVersion: frame.apiVersion))
        } catch {
            return malformed(frame, context: context, reason: "\(error)")
        }
        let request = HandlerRequest(header: header, context: context)
        let groups = broker.groupRequests
        switch apiKey {
        case .apiVersions: return serve(ApiVersionsRequest.self, body, request) { broker.apiVersions($0, $1) }
        case .metadata:
            return serve(MetadataRequest.self, body, request) { message, request in
                broker.metadata(message, request).map { [broker] in broker.metadataAuthorizedOperations($0, message, request) }
            }
        case .produce: return serveProduce(body, request)
        case .fetch: return serveFetch(body, request)
        case .listOffsets: return serve(ListOffsetsRequest.self, body, request) { broker.authorizedListOffsets($0, $1) }
        case .offsetForLeaderEpoch:
            return serve(OffsetForLeaderEpochRequest.self, body, request) { broker.offsetForLeaderEpoch($0, $1) }
        // Transaction APIs: `TransactionRequests` (RunnelTransactions) is the one translation, as for groups.
        case .initProducerId:
            return serveTransaction(InitProducerIdRequest.self, body, request) { [broker] in
                if let denied = broker.initProducerIdDenied($1, $2) { return denied }
                return await $0.initProducerId($1, version: $2.version)
            }
        case .addPartitionsToTxn:
            return serveTransaction(AddPartitionsToTxnRequest.self, body, request) { [broker] in
                await broker.authorizedAddPartitionsToTxn($0, $1, $2)
            }
        case .addOffsetsToTxn:
            return serveTransaction(AddOffsetsToTxnRequest.self, body, request) { [broker] in
                if let denied = broker.transactionDenied($1.transactionalId, group: $1.groupId, $2) { return .denied(denied) }
                return await $0.addOffsetsToTxn($1, version: $2.version)
            }
        case .endTxn:
            return serveTransaction(EndTxnRequest.self, body, request) { [broker] in
                if let denied = broker.transactionDenied($1.transactionalId, $2) { return .denied(denied) }
                return await $0.endTxn($1, version: $2.version)
            }
        case .listTransactions:
            return serveTransaction(ListTransactionsRequest.self, body, request) { [broker] in
                await broker.authorizedListTransactions($0, $1, $2)
            }
        case .describeTransactions:
            return serveTransaction(DescribeTransactionsRequest.self, body, request) { [broker] in
                await broker.authorizedDescribeTransactions($0, $1, $2)
            }
        case .writeTxnMarkers:
            return serve(WriteTxnMarkersRequest.self, body, request) { broker.authorizedWriteTxnMarkers($0, $1) }
        case .createTopics: return serveAsync(CreateTopicsRequest.self, body, request) { await $0.authorizedCreateTopics($1, $2) }
        case .deleteTopics: return serveAsync(DeleteTopicsRequest.self, body, request) { await $0.authorizedDeleteTopics($1, $2) }
        case .createPartitions:
            return serveAsync(CreatePartitionsRequest.self, body, request) { await $0.authorizedCreatePartitions($1, $2) }
        case .deleteRecords: return serve(DeleteRecordsRequest.self, body, request) { broker.authorizedDeleteRecords($0, $1) }
        case .describeConfigs:
            return serve(DescribeConfigsRequest.self, body, request) { broker.authorizedDescribeConfigs($0, $1) }
        case .alterConfigs: return serveAsync(AlterConfigsRequest.self, body, request) { await $0.authorizedAlterConfigs($1, $2) }
        case .incrementalAlterConfigs:
            return serveAsync(IncrementalAlterConfigsRequest.self, body, request) {
                await $0.authorizedIncrementalAlterConfigs($1, $2)
            }
        case .describeCluster: return serve(DescribeClusterRequest.self, body, request) { broker.authorizedDescribeCluster($0, $1) }
        case .describeProducers:
            return serve(DescribeProducersRequest.self, body, request) { broker.authorizedDescribeProducers($0, $1) }
        case .electLeaders: return serveAsync(ElectLeadersRequest.self, body, request) { await $0.authorizedElectLeaders($1, $2) }
        case .alterPartitionReassignments:
            return serveAsync(AlterPartitionReassignmentsRequest.self, body, request) { await $0.authorizedAlterPartitionReassignments($1, $2) }
        case .listPartitionReassignments:
            return serve(ListPartitionReassignmentsRequest.self, body, request) { broker.authorizedListPartitionReassignments($0, $1) }
        case .describeLogDirs: return serve(DescribeLogDirsRequest.self, body, request) { broker.authorizedDescribeLogDirs($0, $1) }
        case .createAcls: return serveAsync(CreateAclsRequest.self, body, request) { await $0.createAcls($1, $2) }
        case .describeAcls: return serve(DescribeAclsRequest.self, body, request) { broker.describeAcls($0, $1) }
        case .deleteAcls: return serveAsync(DeleteAclsRequest.self, body, request) { await $0.deleteAcls($1, $2) }
        case .describeUserScramCredentials:
            return serve(DescribeUserScramCredentialsRequest.self, body, request) { broker.describeUserScramCredentials($0, $1) }
        case .alterUserScramCredentials:
            return serveAsync(AlterUserScramCredentialsRequest.self, body, request) { await $0.alterUserScramCredentials($1, $2) }
        case .describeClientQuotas:
            return serve(DescribeClientQuotasRequest.self, body, request) { broker.describeClientQuotas($0, $1) }
        case .alterClientQuotas:
            return serveAsync(AlterClientQuotasRequest.self, body, request) { await $0.alterClientQuotas($1, $2) }
        // Group APIs: `GroupRequests` (RunnelGroups) is the one translation between these messages and the
        // coordinator; the router only runs it on the connection's lane.
        case .findCoordinator:
            return serve(FindCoordinatorRequest.self, body, request) {
                .now(broker.authorizeFindCoordinator(broker.onListener(groups.findCoordinator($0, version: $1.version), $1), $0, $1))
            }
        case .joinGroup:
            return serveGroup(JoinGroupRequest.self, body, request) { [broker] in
                if let denied = broker.groupDenied($1.groupId, .read, $2) { return .denied(denied) }
                return await $0.joinGroup($1, version: $2.version, clientId: $2.header.clientId ?? "", clientHost: $2.clientHost)
            }
        case .syncGroup:
            return serveGroup(SyncGroupRequest.self, body, request) { [broker] in
                if let denied = broker.groupDenied($1.groupId, .read, $2) { return .denied(denied) }
                let response = await $0.syncGroup($1, version: $2.version)
                // A member in a generation after an alias swap's fence that was assigned the moved partitions
                // afresh reads their committed offsets before it fetches: its hold ends as it does (GroupFenceHandlers).
                await broker.endHoldAfterSync($1, response, $2)
                return response
            }
        case .heartbeat:
            return serveGroup(HeartbeatRequest.self, body, request) { [broker] in
                if let denied = broker.groupDenied($1.groupId, .read, $2) { return .denied(denied) }
                return await $0.heartbeat($1, version: $2.version)
            }
        case .leaveGroup:
            return serveGroup(LeaveGroupRequest.self, body, request) { [broker] in
                if let denied = broker.groupDenied($1.groupId, .read, $2) { return .denied(denied) }
                return await $0.leaveGroup($1, version: $2.version)
            }
        // Group offsets of an alias are its target's (GroupOffsetAliases.swift).
        case .offsetCommit:
            return serveGroupOffsets(OffsetCommitRequest.self, body, request) { [broker] in
                await broker.authorizedOffsetCommit($0, $1, $2)
            }
        case .txnOffsetCommit:
            return serveGroupOffsets(TxnOffsetCommitRequest.self, body, request) { [broker] in
                await broker.authorizedTxnOffsetCommit($0, $1, $2)
            }
        case .offsetFetch:
            return serveGroupOffsets(OffsetFetchRequest.self, body, request) { [broker] in
                // A client assigned partitions a fence moved reads their offsets: its hold on them ends (GroupFenceHandlers).
                broker.noteCommittedOffsetsRead($1, $2)
                return await broker.authorizedOffsetFetch($0, $1, $2)
            }
        case .describeGroups:
            return serveGroup(DescribeGroupsRequest.self, body, request) { [broker] in await broker.authorizedDescribeGroups($0, $1, $2) }
        case .listGroups:
            return serveGroup(ListGroupsRequest.self, body, request) { [broker] in await broker.authorizedListGroups($0, $1, $2) }
        case .deleteGroups:
            return serveGroup(DeleteGroupsRequest.self, body, request) { [broker] in await broker.authorizedDeleteGroups($0, $1, $2) }
        case .offsetDelete:
            return serveGroupOffsets(OffsetDeleteRequest.self, body, request) { [broker] in
                await broker.authorizedOffsetDelete($0, $1, $2)
            }
        default:
            return loop.makeFailedFuture(RouterError.unsupportedApi(apiKey: frame.apiKey, version: frame.apiVersion))
        }
    }

    /// Decodes the body, runs a handler that answers synchronously or later, encodes the response.
    private func serve<Request: KafkaRequestMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ handler: (Request, HandlerRequest) -> HandlerResult<Request.Response>
    ) -> EventLoopFuture<ResponsePayload> {
        let started = broker.requestTimeStart(request)  // request-time quota (Quotas/RequestTimeQuota.swift)
        let message: Request
        switch decode(Request.self, body, request) {
        case .success(let decoded): message = decoded
        case .failure(let error): return malformed(request, reason: "\(error)")
        }
        let result = handler(message, request)
        let spent = broker.requestTimeSpent(since: started)
        switch result {
        case .now(let response):
            return request.eventLoop.makeCompletedFuture {
                try broker.encodeWithRequestTime(response, spent: spent, request) { try encode($0, for: request) }
            }
        case .later(let future):
            return future.flatMapThrowing { [broker] response in
                try broker.encodeWithRequestTime(response, spent: spent, request) { try self.encode($0, for: request) }
            }
        }
    }

    /// Serves an API whose work is asynchronous (a group call that may wait for a rebalance, a
    /// transaction step that waits for its log write, a metadata write that is a network call in cluster
    /// mode): it runs off the event loop on the connection's lane, after the connection's earlier such
    /// calls have finished (Kafka's one-request-at-a-time per connection). `service` is what the call
    /// works on (the broker, its group requests or its transaction requests).
    private func serveOnLane<Service: Sendable, Request: KafkaRequestMessage>(
        _ service: Service, _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ call: @escaping @Sendable (Service, Request, HandlerRequest) async -> Request.Response
    ) -> EventLoopFuture<ResponsePayload> {
        serve(type, body, request) { message, request in
            .later(request.context.lane.submit(on: request.eventLoop) { await call(service, message, request) })
        }
    }

    private func serveGroup<Request: KafkaRequestMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ call: @escaping @Sendable (GroupRequests, Request, HandlerRequest) async -> Request.Response
    ) -> EventLoopFuture<ResponsePayload> {
        serveOnLane(broker.groupRequests, type, body, request, call)
    }

    /// A group call whose request and response name topics: aliases resolve to their targets.
    private func serveGroupOffsets<Request: KafkaRequestMessage & TopicNamedMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ call: @escaping @Sendable (GroupRequests, Request, HandlerRequest) async -> Request.Response
    ) -> EventLoopFuture<ResponsePayload> where Request.Response: TopicNamedMessage {
        let store = broker.metadataStore
        return serveGroup(type, body, request) { groups, message, request in
            var renames = TopicAliasRenames(image: store.image)
            let resolved = renames.resolve(message)
            let response = await call(groups, resolved, request)
            return renames.restore(response)
        }
    }

    private func serveAsync<Request: KafkaRequestMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ call: @escaping @Sendable (BrokerCore, Request, HandlerRequest) async -> Request.Response
    ) -> EventLoopFuture<ResponsePayload> {
        serveOnLane(broker, type, body, request, call)
    }

    private func serveTransaction<Request: KafkaRequestMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest,
        _ call: @escaping @Sendable (TransactionRequests, Request, HandlerRequest) async -> Request.Response
    ) -> EventLoopFuture<ResponsePayload> {
        serveOnLane(broker.transactionRequests, type, body, request, call)
    }

    private func serveProduce(_ body: ByteBuffer, _ request: HandlerRequest) -> EventLoopFuture<ResponsePayload> {
        let started = broker.requestTimeStart(request)
        let message: ProduceRequest
        switch decode(ProduceRequest.self, body, request) {
        case .success(let decoded): message = decoded
        case .failure(let error): return malformed(request, reason: "\(error)")
        }
        let acks = message.acks
        let produced = broker.produceWithQuota(message, requestBytes: body.readableBytes, request)
        let spent = broker.requestTimeSpent(since: started)
        let future = spent == 0 ? produced : produced.map { [broker] in broker.withRequestTime($0, spent: spent, request) }
        guard acks != 0 else {
            // acks=0: the client reads no response; the append still completes in the background.
            return future.map { _ in ResponsePayload.none }
        }
        return future.flatMapThrowing { response in try self.encode(response, for: request) }
    }

    private func serveFetch(_ body: ByteBuffer, _ request: HandlerRequest) -> EventLoopFuture<ResponsePayload> {
        let started = broker.requestTimeStart(request)
        switch decode(FetchRequest.self, body, request) {
        case .success(let message):
            broker.noteQuota(.fetch, request)
            let fetched = broker.fetch(message, request)
            // Followers' fetches are inter-broker traffic: exempt from the request-time quota, as in Kafka.
            let follower = (request.version >= 15 ? message.replicaState.replicaId : message.replicaId) >= 0
            let spent = follower ? 0 : broker.requestTimeSpent(since: started)
            return spent == 0 ? fetched : fetched.map { [broker] in broker.withRequestTime(fetch: $0, spent: spent, request) }
        case .failure(let error): return malformed(request, reason: "\(error)")
        }
    }

    /// Decodes a request body at the header's version.
    private func decode<Request: KafkaRequestMessage>(
        _ type: Request.Type, _ body: ByteBuffer, _ request: HandlerRequest
    ) -> Result<Request, KafkaDecodingError> {
        var body = body
        do throws(KafkaDecodingError) {
            return .success(try Request(from: &body, version: request.header.apiVersion))
        } catch {
            return .failure(error)
        }
    }

    func encode<Response: KafkaMessage>(_ response: Response, for request: HandlerRequest) throws -> ResponsePayload {
        var out = ByteBufferAllocator().buffer(capacity: 512)
        do {
            ResponseHeader(correlationId: request.header.correlationId).encode(
                to: &out, headerVersion: ResponseHeader.headerVersion(apiKey: request.header.apiKey,
                                                                      apiVersion: request.header.apiVersion))
            try response.encode(to: &out, version: request.header.apiVersion)
            broker.errorMetrics.record(response, apiKey: request.header.apiKey)
        } catch {
            request.context.logger.error("response encoding failed", metadata: ["error": "\(error)"])
            throw RouterError.encodingFailed(api: String(describing: Response.self), reason: "\(error)")
        }
        return .buffer(out)
    }

    private func malformed(_ frame: KafkaRequestFrame, context: RequestContext, reason: String) -> EventLoopFuture<ResponsePayload> {
        context.logger.warning("closing connection: malformed request header",
                               metadata: ["api_key": "\(frame.apiKey)", "version": "\(frame.apiVersion)", "reason": "\(reason)"])
        return context.eventLoop.makeFailedFuture(
            RouterError.malformedRequest(apiKey: frame.apiKey, version: frame.apiVersion, reason: reason))
    }

    private func malformed(_ request: HandlerRequest, reason: String) -> EventLoopFuture<ResponsePayload> {
        request.context.logger.warning("closing connection: malformed request",
                                       metadata: ["api_key": "\(request.header.apiKey)",
                                                  "version": "\(request.header.apiVersion)", "reason": "\(reason)"])
        return request.eventLoop.makeFailedFuture(RouterError.malformedRequest(
            apiKey: request.header.apiKey, version: request.header.apiVersion, reason: reason))
    }

    /// Kafka's answer to an ApiVersions version it does not know: v0 body, UNSUPPORTED_VERSION, its ranges.
    private func unsupportedApiVersionsReply(_ frame: KafkaRequestFrame, context: RequestContext) -> ResponsePayload {
        var response = ApiVersionsResponse()
        response.errorCode = ErrorCode.unsupportedVersion.rawValue
        response.apiKeys = SupportedApis.apiVersionEntries()
        var out = ByteBufferAllocator().buffer(capacity: 512)
        out.writeInteger(frame.correlationId)
        do {
            try response.encode(to: &out, version: 0)
        } catch {
            context.logger.error("ApiVersions v0 encoding failed", metadata: ["error": "\(error)"])
        }
        return .buffer(out)
    }
}

/// What a handler sees of the request besides its body.
struct HandlerRequest: Sendable {
    let header: RequestHeader
    let context: RequestContext
    var eventLoop: any EventLoop { context.eventLoop }
    var version: Int16 { header.apiVersion }
    /// The client's address as Kafka shows it in group descriptions: "/<ip>" (empty if unknown).
    var clientHost: String { context.clientAddress?.ipAddress.map { "/\($0)" } ?? "" }
}

/// A handler's answer: ready now, or when a future completes (long poll, durable append).
enum HandlerResult<Response: Sendable>: Sendable {
    case now(Response)
    case later(EventLoopFuture<Response>)
}
