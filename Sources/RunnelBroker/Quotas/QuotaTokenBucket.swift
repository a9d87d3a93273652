// QuotaTokenBucket: Kafka's TokenBucket stat (KIP-599), which `controller_mutation_rate` is measured
// with: credits refill at the quota per second up to a burst of quota × quota.window.num ×
// quota.window.size.seconds; a mutation takes its partitions' worth; the quota is exhausted while the
// credits are below zero. Pure arithmetic on millisecond timestamps, so tests drive it with their own clock.

/// A token bucket refilled at `bound` per second, holding at most `bound` × the whole quota window.
struct QuotaTokenBucket: Sendable {
    /// `quota.window.num` × `quota.window.size.seconds`, in milliseconds: the burst is `bound` × this span.
    let spanMs: Int64
    private var tokens: Double
    private var lastUpdateMs: Int64

    /// A full bucket at `now` (Kafka's bucket starts empty at time 0 and so is full at its first use).
    init(samples: Int, windowMs: Int64, bound: Double, now: Int64) {
        spanMs = Int64(max(samples, 1)) * max(windowMs, 1)
        tokens = Self.burst(bound, spanMs)
        lastUpdateMs = now
    }

    private static func burst(_ bound: Double, _ spanMs: Int64) -> Double { bound * Double(spanMs) / 1000 }

    /// The credits at `now`, after refilling at `bound` per second.
    mutating func credits(bound: Double, now: Int64) -> Double {
        let elapsed = max(now - lastUpdateMs, 0)
        tokens = min(Self.burst(bound, spanMs), tokens + bound * Double(elapsed) / 1000)
        lastUpdateMs = max(now, lastUpdateMs)
        return tokens
    }

    /// Takes `value` credits at `now` (a negative value gives them back; never above the burst).
    mutating func record(_ value: Double, bound: Double, now: Int64) {
        tokens = min(Self.burst(bound, spanMs), credits(bound: bound, now: now) - value)
    }

    /// Kafka's throttle time: how long until the credits are back to zero if nothing more is taken
    /// (−credits / bound seconds); 0 while the credits are not negative.
    mutating func throttleTime(bound: Double, now: Int64) -> Int64 {
        let credits = credits(bound: bound, now: now)
        guard bound > 0, credits < 0 else { return 0 }
        return Int64(min((-credits / bound * 1000).rounded(), Double(Int32.max)))
    }

    /// The last time the bucket was read or changed (for expiring idle buckets).
    var lastEventMs: Int64 { lastUpdateMs }
}
