// ReplicationThrottle: a byte-rate limit for the replication traffic of a reassignment (Kafka's
// `leader.replication.throttled.rate` / `follower.replication.throttled.rate`). A token bucket holding
// at most one second of the rate; traffic is charged after it was sent or received (a batch is never
// split), so the bucket may go into debt and the next fetch of a throttled partition waits until the
// debt is paid back. Applied only to the replicas the topics' throttled-replica lists name while they
// are out of the ISR (ThrottledReplicas.swift); in-sync replication is never throttled. The rate is
// dynamic (DynamicBrokerConfigs.swift): a new rate applies to the next fetch.
import Synchronization

final class ReplicationThrottle: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilledAt: ContinuousClock.Instant
    }
    private let bucket: Mutex<Bucket>
    private let currentRate: Atomic<Int64>

    init(rate: Int64) {
        currentRate = Atomic(max(rate, 1))
        bucket = Mutex(Bucket(tokens: Double(max(rate, 1)), refilledAt: .now))
    }

    /// Bytes per second; `Int64.max` (Kafka's default) means unthrottled.
    var rate: Int64 { currentRate.load(ordering: .relaxed) }

    /// Changes the rate (a dynamic broker config): the bucket keeps its debt and holds at most one
    /// second of the new rate.
    func setRate(_ newRate: Int64) {
        let newRate = max(newRate, 1)
        bucket.withLock { b in
            refill(&b, now: .now)
            currentRate.store(newRate, ordering: .relaxed)
            b.tokens = min(b.tokens, Double(newRate))
        }
    }

    /// True when the rate limits anything.
    var isLimited: Bool { rate < Int64.max }

    /// The bytes that may be transferred now (≤ 0 while in debt).
    func available(now: ContinuousClock.Instant = .now) -> Int64 {
        guard isLimited else { return Int64.max }
        return bucket.withLock { b in
            refill(&b, now: now)
            return Int64(b.tokens)
        }
    }

    /// Charges `bytes` that were transferred.
    func record(_ bytes: Int, now: ContinuousClock.Instant = .now) {
        guard isLimited, bytes > 0 else { return }
        bucket.withLock { b in
            refill(&b, now: now)
            b.tokens -= Double(bytes)
        }
    }

    /// How long until the bucket is out of debt again (zero when it is not in debt).
    func delayUntilAvailable(now: ContinuousClock.Instant = .now) -> Duration {
        guard isLimited else { return .zero }
        let tokens = bucket.withLock { b -> Double in
            refill(&b, now: now)
            return b.tokens
        }
        guard tokens < 1 else { return .zero }
        return .nanoseconds(Int64(min(((1 - tokens) / Double(rate) * 1e9).rounded(.up), 1e12)))
    }

    private func refill(_ b: inout Bucket, now: ContinuousClock.Instant) {
        let elapsed = now - b.refilledAt
        guard elapsed > .zero else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(self.rate)
        b.tokens = min(rate, b.tokens + seconds * rate)
        b.refilledAt = now
    }
}
