// RequestTimeQuota: Kafka's `request_percentage` quota (ClientRequestQuotaManager). The time the broker
// spends handling each request of a client with such a quota is recorded, as a percentage of one thread's
// second, in the client's windowed-rate sensor; over the quota the response carries the throttle time
// (at most one quota window, as Kafka bounds it) and the connection is muted for it, as for byte quotas.
// Counted: decoding the request, the handler's synchronous work on the event loop and encoding the
// response (recorded after it went out, without throttling for it). Not counted: time
// a request waits (a long poll, a durable append, a rebalance, a metadata-store write), as Kafka counts
// its handler threads' time and not the time a request spends in purgatory.
import KafkaProtocol
import NIOCore

/// A response with Kafka's `throttle_time_ms` (encoded in the versions that have it).
protocol ThrottleTimeResponse {
    var throttleTimeMs: Int32 { get set }
}

extension ApiVersionsResponse: ThrottleTimeResponse {}
extension MetadataResponse: ThrottleTimeResponse {}
extension ProduceResponse: ThrottleTimeResponse {}
extension ListOffsetsResponse: ThrottleTimeResponse {}
extension OffsetForLeaderEpochResponse: ThrottleTimeResponse {}
extension InitProducerIdResponse: ThrottleTimeResponse {}
extension AddPartitionsToTxnResponse: ThrottleTimeResponse {}
extension AddOffsetsToTxnResponse: ThrottleTimeResponse {}
extension EndTxnResponse: ThrottleTimeResponse {}
extension ListTransactionsResponse: ThrottleTimeResponse {}
extension DescribeTransactionsResponse: ThrottleTimeResponse {}
extension CreateTopicsResponse: ThrottleTimeResponse {}
extension DeleteTopicsResponse: ThrottleTimeResponse {}
extension CreatePartitionsResponse: ThrottleTimeResponse {}
extension DeleteRecordsResponse: ThrottleTimeResponse {}
extension DescribeConfigsResponse: ThrottleTimeResponse {}
extension AlterConfigsResponse: ThrottleTimeResponse {}
extension IncrementalAlterConfigsResponse: ThrottleTimeResponse {}
extension DescribeClusterResponse: ThrottleTimeResponse {}
extension DescribeProducersResponse: ThrottleTimeResponse {}
extension ElectLeadersResponse: ThrottleTimeResponse {}
extension AlterPartitionReassignmentsResponse: ThrottleTimeResponse {}
extension ListPartitionReassignmentsResponse: ThrottleTimeResponse {}
extension DescribeLogDirsResponse: ThrottleTimeResponse {}
extension CreateAclsResponse: ThrottleTimeResponse {}
extension DescribeAclsResponse: ThrottleTimeResponse {}
extension DeleteAclsResponse: ThrottleTimeResponse {}
extension DescribeUserScramCredentialsResponse: ThrottleTimeResponse {}
extension AlterUserScramCredentialsResponse: ThrottleTimeResponse {}
extension DescribeClientQuotasResponse: ThrottleTimeResponse {}
extension AlterClientQuotasResponse: ThrottleTimeResponse {}
extension FindCoordinatorResponse: ThrottleTimeResponse {}
extension JoinGroupResponse: ThrottleTimeResponse {}
extension SyncGroupResponse: ThrottleTimeResponse {}
extension HeartbeatResponse: ThrottleTimeResponse {}
extension LeaveGroupResponse: ThrottleTimeResponse {}
extension OffsetCommitResponse: ThrottleTimeResponse {}
extension TxnOffsetCommitResponse: ThrottleTimeResponse {}
extension OffsetFetchResponse: ThrottleTimeResponse {}
extension DescribeGroupsResponse: ThrottleTimeResponse {}
extension ListGroupsResponse: ThrottleTimeResponse {}
extension DeleteGroupsResponse: ThrottleTimeResponse {}
extension OffsetDeleteResponse: ThrottleTimeResponse {}

/// Request time as Kafka records it: nanoseconds of handling as a percentage of one thread's second.
enum RequestTimeQuota {
    static func percentage(nanoseconds: UInt64) -> Double { Double(nanoseconds) * 100 / 1_000_000_000 }
}

extension BrokerCore {
    /// When a request-time quota applies to the client of `request`: the clock (ns) at which its handling
    /// started; 0 otherwise (one atomic load while no entity sets `request_percentage`). Exempt, as in
    /// Kafka: inter-broker requests (WriteTxnMarkers; followers' fetches are left out by the caller) and
    /// ApiVersions before a SASL connection authenticated (Kafka answers it in its authenticator).
    func requestTimeStart(_ request: HandlerRequest) -> UInt64 {
        guard quotas.limits(.request) else { return 0 }
        let api = ApiKey(rawValue: request.header.apiKey)
        if api == .writeTxnMarkers { return 0 }
        if api == .apiVersions, request.context.session.security.securityProtocol.usesSASL,
           !request.context.session.isAuthenticated { return 0 }
        guard quotas.applies(.request, user: request.context.session.principal.name, clientId: request.header.clientId ?? "")
        else { return 0 }
        // Read one request at a time, so the mute holds back the very next request (see ConnectionThrottle).
        request.context.throttle.markLimited()
        return NIODeadline.now().uptimeNanoseconds
    }

    /// The handling time since `requestTimeStart` (≥ 1 ns when timed; 0 when the request is not timed).
    func requestTimeSpent(since started: UInt64) -> UInt64 {
        guard started != 0 else { return 0 }
        return max(NIODeadline.now().uptimeNanoseconds &- started, 1)
    }

    /// Records `spent` ns against the client's request-time quota; a violation mutes the connection and
    /// returns the throttle time (0 when within quota or not timed).
    func recordRequestTime(_ spent: UInt64, _ request: HandlerRequest) -> Int32 {
        guard spent != 0 else { return 0 }
        let throttle = quotas.record(.request, user: request.context.session.principal.name,
                                     clientId: request.header.clientId ?? "",
                                     value: RequestTimeQuota.percentage(nanoseconds: spent), now: Self.quotaClockMs)
        guard throttle > 0 else { return 0 }
        request.context.throttle.mute(milliseconds: throttle)
        return Int32(clamping: throttle)
    }

    /// `response` with the request-time quota applied: its throttle time is the larger of the one it
    /// carries (a byte or controller-mutation quota's) and the request quota's, as Kafka answers.
    func withRequestTime<Response>(_ response: Response, spent: UInt64, _ request: HandlerRequest) -> Response {
        let throttle = recordRequestTime(spent, request)
        guard throttle > 0, var throttled = response as? any ThrottleTimeResponse else { return response }
        throttled.throttleTimeMs = max(throttled.throttleTimeMs, throttle)
        return (throttled as? Response) ?? response
    }

    /// Encodes `response` with the request-time quota applied, then records the encoding's own time
    /// without throttling for it (Kafka records its network threads' time the same way).
    func encodeWithRequestTime<Response>(_ response: Response, spent: UInt64, _ request: HandlerRequest,
                                         _ encode: (Response) throws -> ResponsePayload) rethrows -> ResponsePayload {
        guard spent != 0 else { return try encode(response) }
        let throttled = withRequestTime(response, spent: spent, request)
        let started = NIODeadline.now().uptimeNanoseconds
        let payload = try encode(throttled)
        let encoding = RequestTimeQuota.percentage(nanoseconds: NIODeadline.now().uptimeNanoseconds &- started)
        quotas.record(.request, user: request.context.session.principal.name, clientId: request.header.clientId ?? "",
                      value: encoding, now: Self.quotaClockMs, throttling: false)
        return payload
    }

    /// An encoded Fetch response (FetchResponseWriter: v4+, `throttle_time_ms` first in the body) with the
    /// request-time quota applied.
    func withRequestTime(fetch payload: ResponsePayload, spent: UInt64, _ request: HandlerRequest) -> ResponsePayload {
        let throttle = recordRequestTime(spent, request)
        guard throttle > 0, case .parts(var parts) = payload, case .buffer(var head)? = parts.first else { return payload }
        let offset = head.readerIndex + 4 + (request.version >= 12 ? 1 : 0)  // correlation id, header tags
        guard let carried = head.getInteger(at: offset, as: Int32.self), carried < throttle else { return payload }
        head.setInteger(throttle, at: offset)
        parts[0] = .buffer(head)
        return .parts(parts)
    }
}
