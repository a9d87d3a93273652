// ClientQuotaManager: the broker's client quotas (from the metadata store's `quota` records), resolved
// with Kafka's eight-level precedence, and one rate sensor per quota type and entity that records
// bytes and answers the throttle time. A broker with no user/client-id quota pays one atomic load per
// request; a limited client pays one dictionary lookup and one sensor update under a lock.
import Logging
import NIOConcurrencyHelpers
import RunnelCluster
import Synchronization

/// The quota types a client is throttled by (Kafka's ClientQuotaType), with the key each reads.
enum ClientQuotaType: String, CaseIterable, Sendable {
    case produce, fetch, request
    case controllerMutation = "controller_mutation"

    var key: ClientQuotaKey {
        switch self {
        case .produce: .producerByteRate
        case .fetch: .consumerByteRate
        case .request: .requestPercentage
        case .controllerMutation: .controllerMutationRate
        }
    }

    /// This type's bit in `ClientQuotaManager`'s set of types some entity limits.
    var bit: UInt8 {
        switch self {
        case .produce: 1
        case .fetch: 2
        case .request: 4
        case .controllerMutation: 8
        }
    }
}

/// Every quota record of the store, indexed by entity.
struct ClientQuotaTable: Sendable {
    var entities: [ClientQuotaEntity: [String: Double]] = [:]

    init(_ entities: [ClientQuotaEntity: [String: Double]] = [:]) { self.entities = entities }

    init(image: MetadataImage) {
        for (key, record) in image.records(.quota) {
            guard let entity = ClientQuotaEntity(recordKey: key), let stored = StoredClientQuotas(json: record.value) else { continue }
            entities[entity] = stored.values
        }
    }

    /// The `connection_creation_rate` of connections from `ip`: its own entity's, else the default IP entity's.
    func connectionCreationRate(ip: String) -> Double? {
        let key = ClientQuotaKey.connectionCreationRate.rawValue
        return entities[ClientQuotaEntity(ip: .named(ip))]?[key] ?? entities[ClientQuotaEntity(ip: .defaultEntity)]?[key]
    }

    /// Whether any IP entity sets a connection creation rate.
    var limitsConnections: Bool {
        entities.contains { $0.key.ip != nil && $0.value[ClientQuotaKey.connectionCreationRate.rawValue] != nil }
    }

    /// Whether any user or client-id entity sets a throttling quota.
    var limitsClients: Bool { limitedTypes != 0 }

    /// The quota types some user or client-id entity sets, as `ClientQuotaType.bit`s.
    var limitedTypes: UInt8 {
        var bits: UInt8 = 0
        for (entity, values) in entities where entity.ip == nil {
            for type in ClientQuotaType.allCases where values[type.key.rawValue] != nil { bits |= type.bit }
        }
        return bits
    }

    /// The quota `key` that applies to `user` with `clientId`, by Kafka's precedence, and the sensor it
    /// is counted in: entities that name the user share a sensor per user (per user and client id when
    /// the entity has a client id too); client-id entities one per client id.
    func resolve(_ key: ClientQuotaKey, user: String, clientId: String) -> (bound: Double, sensor: QuotaSensorKey)? {
        let u = ClientQuotaEntityName.named(user)
        let c = ClientQuotaEntityName.named(clientId)
        let both = QuotaSensorKey(user: user, clientId: clientId)
        let levels: [(ClientQuotaEntity, QuotaSensorKey)] = [
            (ClientQuotaEntity(user: u, clientId: c), both),                                    // 1 /users/<user>/clients/<client-id>
            (ClientQuotaEntity(user: u, clientId: .defaultEntity), both),                       // 2 /users/<user>/clients/<default>
            (ClientQuotaEntity(user: u), QuotaSensorKey(user: user, clientId: "")),             // 3 /users/<user>
            (ClientQuotaEntity(user: .defaultEntity, clientId: c), both),                       // 4 /users/<default>/clients/<client-id>
            (ClientQuotaEntity(user: .defaultEntity, clientId: .defaultEntity), both),          // 5 /users/<default>/clients/<default>
            (ClientQuotaEntity(user: .defaultEntity), QuotaSensorKey(user: user, clientId: "")), // 6 /users/<default>
            (ClientQuotaEntity(clientId: c), QuotaSensorKey(user: "", clientId: clientId)),     // 7 /clients/<client-id>
            (ClientQuotaEntity(clientId: .defaultEntity), QuotaSensorKey(user: "", clientId: clientId)), // 8 /clients/<default>
        ]
        for (entity, sensor) in levels {
            if let bound = entities[entity]?[key.rawValue] { return (bound, sensor) }
        }
        return nil
    }
}

/// Which sensor a client's usage is counted in (Kafka's quota metric tags user and client-id).
struct QuotaSensorKey: Hashable, Sendable {
    var user: String
    var clientId: String
}

/// The client quotas one broker enforces, following the metadata store.
final class ClientQuotaManager: Sendable {
    /// `quota.window.num` and `quota.window.size.seconds`.
    struct Window: Sendable {
        var samples: Int = 11
        var sizeMs: Int64 = 1000
    }

    private struct Sensors {
        var table = ClientQuotaTable()
        /// Per quota type: (user, client id) → resolved bound and sensor (cleared on every reload).
        var resolved: [ClientQuotaType: [QuotaSensorKey: (bound: Double, sensor: QuotaSensorKey)?]] = [:]
        var rates: [ClientQuotaType: [QuotaSensorKey: QuotaRate]] = [:]
        /// controller_mutation_rate token buckets (KIP-599).
        var buckets: [QuotaSensorKey: QuotaTokenBucket] = [:]
        /// Connections accepted per IP address (connection_creation_rate quotas).
        var connectionRates: [String: QuotaRate] = [:]
        /// Connections accepted by the broker (`max.connection.creation.rate`).
        var brokerConnectionRate: QuotaRate?
    }

    private let window: Mutex<Window>
    /// The quota types some user/client-id entity sets (`ClientQuotaType.bit`s); 0 while none does: the
    /// per-request check is this load alone.
    private let activeTypes = Atomic<UInt8>(0)
    /// False while no IP entity sets connection_creation_rate.
    private let connectionQuotasActive = Atomic<Bool>(false)
    private let state = NIOLockedValueBox(Sensors())
    /// Throttle time handed out, per quota type (`runnel_quota_throttle_time_ms_total{type}`).
    let metrics = QuotaMetrics()

    init(window: Window = Window()) { self.window = Mutex(window) }

    /// Sets the window (from `quota.window.num` / `quota.window.size.seconds` at start).
    func configure(_ window: Window) { self.window.withLock { $0 = window } }

    /// Replaces the quotas (sensors keep their history; resolutions are recomputed).
    func load(_ table: ClientQuotaTable) {
        let types = table.limitedTypes
        state.withLockedValue { state in
            state.table = table
            state.resolved = [:]
        }
        activeTypes.store(types, ordering: .releasing)
        connectionQuotasActive.store(table.limitsConnections, ordering: .releasing)
    }

    /// Whether any user or client-id entity sets a quota of `type` (one atomic load: the unlimited fast path).
    func limits(_ type: ClientQuotaType) -> Bool { activeTypes.load(ordering: .acquiring) & type.bit != 0 }

    /// Every quota now in force.
    var table: ClientQuotaTable { state.withLockedValue { $0.table } }

    /// Follows the store: reloads on every quota change (runs until cancelled).
    func follow(_ store: any MetadataStore) async {
        await store.followRecords(.quota) { load(ClientQuotaTable(image: $0)) }
    }

    /// Whether a quota of `type` applies to `user` with `clientId`.
    func applies(_ type: ClientQuotaType, user: String, clientId: String) -> Bool {
        guard limits(type) else { return false }
        return state.withLockedValue { state in
            Self.resolution(&state, type, QuotaSensorKey(user: user, clientId: clientId)) != nil
        }
    }

    /// The bound and sensor of `who`, from the cache or Kafka's precedence (cached).
    private static func resolution(_ state: inout Sensors, _ type: ClientQuotaType,
                                   _ who: QuotaSensorKey) -> (bound: Double, sensor: QuotaSensorKey)? {
        if let cached = state.resolved[type]?[who] { return cached }
        let resolution = state.table.resolve(type.key, user: who.user, clientId: who.clientId)
        if state.resolved[type, default: [:]].count > 10_000 { state.resolved[type] = [:] }
        state.resolved[type, default: [:]][who] = .some(resolution)
        return resolution
    }

    /// Records `value` (bytes) for `user` and `clientId` at `now` (ms), and returns the throttle time in ms (0 when within quota or unlimited).
    /// `throttling: false` only records (Kafka's recordNoThrottle: the time encoding a response takes).
    @discardableResult
    func record(_ type: ClientQuotaType, user: String, clientId: String, value: Double, now: Int64, throttling: Bool = true) -> Int64 {
        guard limits(type) else { return 0 }
        let window = self.window.withLock { $0 }
        let throttle = state.withLockedValue { state -> Int64 in
            guard let (bound, sensor) = Self.resolution(&state, type, QuotaSensorKey(user: user, clientId: clientId)) else { return 0 }
            if state.rates[type, default: [:]].count > 10_000 { Self.expireIdle(&state.rates, type: type, now: now, window: window) }
            // Updated in place (a copied-out sensor would copy its samples on every record).
            let fresh = QuotaRate(samples: window.samples, windowMs: window.sizeMs)
            let throttle = state.rates[type, default: [:]][sensor, default: fresh].recordAndThrottle(value, bound: bound, now: now)
            // Kafka bounds a request-time throttle by one window (ClientRequestQuotaManager's maxThrottleTimeMs).
            return type == .request ? min(throttle, window.sizeMs) : throttle
        }
        guard throttling else { return 0 }
        if throttle > 0 { metrics.throttled(type, ms: throttle) }
        return throttle
    }

    /// How a new connection from `ip` is admitted at `now` (ms): Kafka's broker-wide connection rate
    /// (`brokerRate` per second; over it the connection waits `delayMs` before it is read) and the IP's
    /// connection_creation_rate quota (over it the connection is closed after `closeAfterMs`; it is not counted).
    func admitConnection(ip: String, brokerRate: Int, now: Int64) -> (delayMs: Int64, closeAfterMs: Int64?) {
        let checkIP = connectionQuotasActive.load(ordering: .acquiring)
        guard checkIP || brokerRate < Int(Int32.max) else { return (0, nil) }
        let window = self.window.withLock { $0 }
        return state.withLockedValue { state in
            if checkIP, let bound = state.table.connectionCreationRate(ip: ip) {
                var rate = state.connectionRates[ip] ?? QuotaRate(samples: window.samples, windowMs: window.sizeMs)
                let throttle = rate.recordAndThrottle(1, bound: bound, now: now)
                if throttle > 0 { rate.record(-1, now: now) }
                if state.connectionRates.count > 10_000 {
                    let span = Int64(window.samples) * window.sizeMs
                    state.connectionRates = state.connectionRates.filter { now - $0.value.lastEventMs < span }
                }
                state.connectionRates[ip] = rate
                if throttle > 0 { return (0, throttle) }
            }
            guard brokerRate < Int(Int32.max) else { return (0, nil) }
            var rate = state.brokerConnectionRate ?? QuotaRate(samples: window.samples, windowMs: window.sizeMs)
            let delay = rate.recordAndThrottle(1, bound: Double(brokerRate), now: now)
            state.brokerConnectionRate = rate
            return (delay, nil)
        }
    }

    /// Takes back a value recorded earlier (a throttled fetch answers no data, as Kafka's unrecord).
    func unrecord(_ type: ClientQuotaType, user: String, clientId: String, value: Double, now: Int64) {
        guard limits(type) else { return }
        state.withLockedValue { state in
            guard let cached = state.resolved[type]?[QuotaSensorKey(user: user, clientId: clientId)],
                  let (_, sensor) = cached else { return }
            state.rates[type]?[sensor]?.record(-value, now: now)
        }
    }

    /// Takes `permits` partition mutations of `user`'s `clientId` at `now` from its controller_mutation_rate
    /// bucket (KIP-599). Strict (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): refused, with
    /// the time until the bucket is back to zero, while the bucket is already below zero, else taken whole
    /// (one large mutation may take it below zero). Permissive (older versions): always taken, with the
    /// throttle time when the bucket is then below zero. Unlimited clients: accepted, no throttle.
    func mutate(user: String, clientId: String, permits: Double, strict: Bool, now: Int64) -> (accepted: Bool, throttleMs: Int64) {
        guard limits(.controllerMutation) else { return (true, 0) }
        let window = self.window.withLock { $0 }
        let outcome = state.withLockedValue { state -> (accepted: Bool, throttleMs: Int64) in
            guard let (bound, sensor) = Self.resolution(&state, .controllerMutation, QuotaSensorKey(user: user, clientId: clientId))
            else { return (true, 0) }
            if state.buckets.count > 10_000 {
                let span = Int64(window.samples) * window.sizeMs
                state.buckets = state.buckets.filter { now - $0.value.lastEventMs < span }
            }
            var bucket = state.buckets[sensor] ?? QuotaTokenBucket(samples: window.samples, windowMs: window.sizeMs, bound: bound, now: now)
            defer { state.buckets[sensor] = bucket }
            if strict {
                let throttle = bucket.throttleTime(bound: bound, now: now)
                guard throttle == 0 else { return (false, throttle) }
                bucket.record(permits, bound: bound, now: now)
                return (true, 0)
            }
            bucket.record(permits, bound: bound, now: now)
            return (true, bucket.throttleTime(bound: bound, now: now))
        }
        if outcome.throttleMs > 0 { metrics.throttled(.controllerMutation, ms: outcome.throttleMs) }
        return outcome
    }

    /// Gives back mutations taken by `mutate` that did not happen (the change failed after all).
    func refundMutations(user: String, clientId: String, permits: Double, now: Int64) {
        guard limits(.controllerMutation) else { return }
        state.withLockedValue { state in
            guard let cached = state.resolved[.controllerMutation]?[QuotaSensorKey(user: user, clientId: clientId)],
                  let (bound, sensor) = cached else { return }
            state.buckets[sensor]?.record(-permits, bound: bound, now: now)
        }
    }

    /// Kafka drops sensors idle for an hour; Runnel drops those idle for a whole quota window once many exist.
    private static func expireIdle(_ rates: inout [ClientQuotaType: [QuotaSensorKey: QuotaRate]], type: ClientQuotaType,
                                   now: Int64, window: Window) {
        let span = Int64(window.samples) * window.sizeMs
        rates[type] = rates[type]?.filter { now - $0.value.lastEventMs < span }
    }
}
