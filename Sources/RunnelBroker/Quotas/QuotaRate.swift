// QuotaRate: Kafka's windowed rate (a SampledStat of `quota.window.num` samples, each
// `quota.window.size.seconds` long, measured as Kafka's Rate measures it) and Kafka's throttle time.
// Pure arithmetic on millisecond timestamps, so tests drive it with their own clock.

/// A rate over the last `samples` windows of `windowMs` each, as Kafka's `Rate` with a windowed sum.
struct QuotaRate: Sendable {
    private struct Sample: Sendable {
        var value: Double
        var startMs: Int64
        var lastEventMs: Int64

        init(now: Int64) {
            value = 0
            startMs = now
            lastEventMs = now
        }

        mutating func reset(now: Int64) { self = Sample(now: now) }
    }

    /// `quota.window.num`.
    let samples: Int
    /// `quota.window.size.seconds` in milliseconds.
    let windowMs: Int64
    // Kafka keeps one extra sample for the window that overlaps the start of the monitored span.
    private var ring: [Sample] = []
    private var current = 0

    init(samples: Int, windowMs: Int64) {
        self.samples = max(samples, 1)
        self.windowMs = max(windowMs, 1)
    }

    /// Adds `value` at `now` (a negative value takes back an earlier record, as Kafka's unrecord).
    mutating func record(_ value: Double, now: Int64) {
        if ring.isEmpty { ring.append(Sample(now: now)) }
        if now - ring[current].startMs >= windowMs {
            current = (current + 1) % (samples + 1)
            if current >= ring.count {
                ring.append(Sample(now: now))
            } else {
                ring[current].reset(now: now)
            }
        }
        ring[current].value += value
        ring[current].lastEventMs = now
    }

    /// Samples with no event within the monitored span start over (Kafka's purgeObsoleteSamples).
    private mutating func purgeObsolete(now: Int64) {
        let expireAge = Int64(samples) * windowMs
        for index in ring.indices where now - ring[index].lastEventMs >= expireAge {
            ring[index].reset(now: now)
        }
    }

    /// The span the rate divides by: the time since the oldest sample started, but at least
    /// `samples - 1` whole windows (so a young sensor does not report a huge rate) and at least 1 ms.
    mutating func windowSize(now: Int64) -> Int64 {
        purgeObsolete(now: now)
        if ring.isEmpty { ring.append(Sample(now: now)) }
        let oldest = ring.lazy.map(\.startMs).min() ?? now
        var elapsed = now - oldest
        let fullWindows = elapsed / windowMs
        let minFullWindows = Int64(samples - 1)
        if fullWindows < minFullWindows { elapsed += (minFullWindows - fullWindows) * windowMs }
        return max(elapsed, 1)
    }

    /// The rate per second at `now`.
    mutating func measure(now: Int64) -> Double {
        let span = windowSize(now: now)
        let total = ring.reduce(0) { $0 + $1.value }
        return total / (Double(span) / 1000)
    }

    /// Records `value` and, when the rate is then above `bound` (per second), returns Kafka's throttle
    /// time: the delay that brings the rate back to the bound if nothing more is recorded,
    /// (rate - bound) / bound × window size. 0 when within the bound.
    mutating func recordAndThrottle(_ value: Double, bound: Double, now: Int64) -> Int64 {
        record(value, now: now)
        return throttleTime(bound: bound, now: now)
    }

    /// The throttle time at `now` without recording (0 when within `bound`).
    mutating func throttleTime(bound: Double, now: Int64) -> Int64 {
        let rate = measure(now: now)
        guard bound > 0, rate > bound else { return 0 }
        let delay = (rate - bound) / bound * Double(windowSize(now: now))
        return Int64(min(delay.rounded(), Double(Int32.max)))
    }

    /// The last time anything was recorded (for expiring idle sensors).
    var lastEventMs: Int64 { ring.lazy.map(\.lastEventMs).max() ?? 0 }
}
