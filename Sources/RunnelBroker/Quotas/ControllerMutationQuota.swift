// ControllerMutationQuota: Kafka's `controller_mutation_rate` (KIP-599) for one CreateTopics,
// CreatePartitions or DeleteTopics request. Each topic's partitions (created, added or deleted) are taken
// from the client's token bucket just before the change is written. At the versions that know the error
// (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+) the quota is strict: once the bucket is below
// zero, further topics are answered THROTTLING_QUOTA_EXCEEDED (and the client retries them after the
// throttle time); older versions are permissive: every change is made and the response is throttled.
import KafkaProtocol

/// The controller mutation quota of one request.
struct ControllerMutationQuota {
    /// The API versions from which Kafka refuses changes over the quota instead of only throttling.
    static let strictSince: [ApiKey: Int16] = [.createTopics: 6, .createPartitions: 3, .deleteTopics: 5]

    private let quotas: ClientQuotaManager?
    private let user: String
    private let clientId: String
    let strict: Bool
    private var throttleMs: Int64 = 0
    private var throttledAt: Int64 = 0

    /// The quota of `request`'s client; unbounded (no lookups, no lock) while no entity sets one.
    init(_ quotas: ClientQuotaManager, _ request: HandlerRequest) {
        self.quotas = quotas.limits(.controllerMutation) ? quotas : nil
        user = request.context.session.principal.name
        clientId = request.header.clientId ?? ""
        let api = ApiKey(rawValue: request.header.apiKey)
        strict = request.version >= (Self.strictSince[api] ?? 0)
    }

    /// Whether a quota applies at all (some entity sets controller_mutation_rate).
    var isLimited: Bool { quotas != nil }

    /// Kafka's answer for a topic refused by a strict quota.
    static let exceeded = (code: ErrorCode.throttlingQuotaExceeded, message: "The throttling quota has been exceeded.")

    /// Takes `partitions` mutations; false when a strict quota refuses them (the topic is then answered
    /// THROTTLING_QUOTA_EXCEEDED). A permissive quota always takes them and notes the throttle time.
    mutating func acquire(_ partitions: Int) -> Bool {
        guard let quotas, partitions > 0 else { return true }
        let now = BrokerCore.quotaClockMs
        let (accepted, throttle) = quotas.mutate(user: user, clientId: clientId, permits: Double(partitions), strict: strict, now: now)
        if throttle > 0 {
            throttleMs = throttle
            throttledAt = now
        }
        return accepted
    }

    /// Gives back `partitions` taken by `acquire` whose change then failed.
    func refund(_ partitions: Int) {
        guard let quotas, partitions > 0 else { return }
        quotas.refundMutations(user: user, clientId: clientId, permits: Double(partitions), now: BrokerCore.quotaClockMs)
    }

    /// The throttle time left now: the last one noted, less the time since (the request may have waited
    /// for metadata writes since), as Kafka's AbstractControllerMutationQuota computes it.
    var throttleTime: Int32 {
        guard throttleMs > 0 else { return 0 }
        return Int32(clamping: max(0, throttleMs - (BrokerCore.quotaClockMs - throttledAt)))
    }
}

extension BrokerCore {
    /// Ends a request's controller mutation quota: a throttle time mutes the connection and is returned
    /// for the response (the request-time quota may raise it when the response is encoded).
    func finish(_ quota: ControllerMutationQuota, _ request: HandlerRequest) -> Int32 {
        let throttle = quota.throttleTime
        if throttle > 0 { request.context.throttle.mute(milliseconds: Int64(throttle)) }
        return throttle
    }
}
