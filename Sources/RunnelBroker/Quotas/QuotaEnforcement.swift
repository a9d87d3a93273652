// QuotaEnforcement: where the client quotas act — a Produce's request bytes and a Fetch's response
// bytes are recorded against the client's byte-rate quota; a violation puts Kafka's throttle time in
// `throttle_time_ms` and mutes the connection for that long after the response (KIP-219).
import Atomics
import KafkaProtocol
import NIOCore

/// Until when a connection reads no further requests (Kafka's ThrottledChannel), shared by the
/// request handlers that throttle and the pipeline handler that stops reading.
public final class ConnectionThrottle: Sendable {
    private let mutedUntil = ManagedAtomic<UInt64>(0)
    private let limited = ManagedAtomic<Bool>(false)

    public init() {}

    /// True once a request showed the client has a byte-rate quota: the connection then reads one
    /// request at a time, as every Kafka connection does, so a mute holds back the very next request
    /// (with many pipelined requests, all those already read would pass before the mute).
    var isLimited: Bool { limited.load(ordering: .relaxed) }

    func markLimited() { limited.store(true, ordering: .relaxed) }

    /// Mutes the connection for `milliseconds` from now (a later, longer mute wins).
    func mute(milliseconds: Int64, now: NIODeadline = .now()) {
        let until = (now + .milliseconds(milliseconds)).uptimeNanoseconds
        var current = mutedUntil.load(ordering: .relaxed)
        while current < until {
            let (exchanged, original) = mutedUntil.compareExchange(expected: current, desired: until, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// False when the connection was never muted (no clock read needed).
    var wasEverMuted: Bool { mutedUntil.load(ordering: .relaxed) != 0 }

    /// The end of the mute, or nil when the connection may read at `now`.
    func mutedUntil(after now: NIODeadline) -> NIODeadline? {
        let until = mutedUntil.load(ordering: .relaxed)
        return until > now.uptimeNanoseconds ? .uptimeNanoseconds(until) : nil
    }
}

extension BrokerCore {
    /// Milliseconds on the monotonic clock the quota sensors run on.
    static var quotaClockMs: Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// Notes, when a request arrives, that its client has a quota of `type` (see `ConnectionThrottle.isLimited`).
    func noteQuota(_ type: ClientQuotaType, _ request: HandlerRequest) {
        guard quotas.limits(type), !request.context.throttle.isLimited,
              quotas.applies(type, user: request.context.session.principal.name, clientId: request.header.clientId ?? "")
        else { return }
        request.context.throttle.markLimited()
    }

    /// Records `bytes` of a client's request or response against `type`'s quota; a violation mutes the
    /// connection and returns the throttle time (0 when within quota or unlimited).
    func recordQuota(_ type: ClientQuotaType, bytes: Int, _ request: HandlerRequest) -> Int32 {
        guard quotas.limits(type) else { return 0 }  // no principal lookup (a lock) for unlimited brokers
        let throttle = quotas.record(type, user: request.context.session.principal.name,
                                     clientId: request.header.clientId ?? "", value: Double(bytes), now: Self.quotaClockMs)
        guard throttle > 0 else { return 0 }
        request.context.throttle.mute(milliseconds: throttle)
        return Int32(clamping: throttle)
    }

    /// Produce with the producer quota: while no client has a quota this is `produce` itself (no extra
    /// future, no lookup beyond one atomic load).
    func produceWithQuota(_ message: ProduceRequest, requestBytes: Int, _ request: HandlerRequest) -> EventLoopFuture<ProduceResponse> {
        guard quotas.limits(.produce) else { return produce(message, request) }
        noteQuota(.produce, request)
        return produce(message, request).map { [self] in throttledProduce($0, requestBytes: requestBytes, request) }
    }

    /// A produced request's answer with the producer quota applied (Kafka records the request size).
    func throttledProduce(_ response: ProduceResponse, requestBytes: Int, _ request: HandlerRequest) -> ProduceResponse {
        let throttle = recordQuota(.produce, bytes: requestBytes, request)
        guard throttle > 0 else { return response }
        var throttled = response
        throttled.throttleTimeMs = throttle
        return throttled
    }

    /// A consumer's fetch answer with the fetch quota applied: when the bytes about to be returned push
    /// the client over its quota, they are taken back and the answer carries no records (Kafka's
    /// throttled fetch answers an empty response), only the throttle time.
    func throttledFetch(_ partitions: [FetchedPartition], _ request: HandlerRequest) -> ([FetchedPartition], Int32) {
        guard quotas.limits(.fetch) else { return (partitions, 0) }
        let bytes = partitions.reduce(0) { $0 + $1.bytes }
        let throttle = recordQuota(.fetch, bytes: bytes, request)
        guard throttle > 0 else { return (partitions, 0) }
        quotas.unrecord(.fetch, user: request.context.session.principal.name, clientId: request.header.clientId ?? "",
                        value: Double(bytes), now: Self.quotaClockMs)
        return (partitions.map { partition in
            var empty = partition
            empty.records = .empty
            return empty
        }, throttle)
    }
}
