// IOThrottle: a background job's bytes per second — the cleaner's (Kafka's
// `log.cleaner.io.max.bytes.per.second`: reads and writes together) and the remote tier's copies
// (`remote.log.manager.copy.max.bytes.per.second`, KIP-956: segment bytes copied). Kafka's Throttler
// checks every 300 ms: a job reads at the disk's full speed until the window's budget is spent, then
// sleeps. At 100 MB/s that is 30 MB at full speed three times a second, and every acks=all produce behind
// such a burst waits (producer p99 37–74 ms while compacting cold segments, docs/benchmarks.md, session
// 19). Here the check runs every 10 ms, so the job's I/O comes in steps of a few megabytes.
//
// The cleaner's default is 200 MB/s (Kafka: unlimited): an unlimited cleaner reading cold segments at the
// disk's speed took a half-rate producer's p99 from 7 ms to 70–135 ms on this project's test machine; at
// 200 MB/s compacting a 1 GiB segment takes about ten seconds (docs/compatibility.md). Tier copies stay
// unlimited by default, as in Kafka: a tier slower than the producers lets the log dir fill up.
import Foundation
import Synchronization

final class IOThrottle: Sendable {
    private struct State {
        var bytesPerSecond: Double = .greatestFiniteMagnitude
        var windowStart: ContinuousClock.Instant?
        var windowBytes: Double = 0
    }

    /// The throttle every log manager's cleaner uses (one disk budget per process); `LogManager` sets it.
    static let cleaner = IOThrottle()
    /// The remote tier's copies (one budget per process, as Kafka's per broker); `LogManager` sets it.
    static let remoteCopy = IOThrottle()

    private let state = Mutex(State())
    /// How long the throttle measures before it decides to pause.
    static let checkInterval: Duration = .milliseconds(10)
    /// Runnel's default rate for the cleaner (log.cleaner.io.max.bytes.per.second), reads plus writes.
    public static let defaultCleanerBytesPerSecond: Double = 200_000_000

    init(bytesPerSecond: Double = .greatestFiniteMagnitude) { configure(bytesPerSecond: bytesPerSecond) }

    func configure(bytesPerSecond: Double) {
        state.withLock { s in
            s.bytesPerSecond = bytesPerSecond > 0 ? bytesPerSecond : .greatestFiniteMagnitude
            s.windowStart = nil
            s.windowBytes = 0
        }
    }

    var isLimited: Bool { state.withLock { $0.bytesPerSecond < .greatestFiniteMagnitude } }

    /// Counts `bytes` read or written by the job; sleeps when the window's rate is above the limit.
    func charge(_ bytes: Int) {
        if let pause = pause(charging: bytes, at: .now) {
            let (seconds, attoseconds) = pause.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        }
    }

    /// Counts `bytes` charged at `now`; returns how long the job should pause, or nil to go on at once.
    func pause(charging bytes: Int, at now: ContinuousClock.Instant) -> Duration? {
        state.withLock { s -> Duration? in
            guard s.bytesPerSecond < .greatestFiniteMagnitude else { return nil }
            guard let start = s.windowStart else {
                s.windowStart = now
                s.windowBytes = Double(bytes)
                return nil
            }
            s.windowBytes += Double(bytes)
            let elapsed = now - start
            let due = Duration.seconds(s.windowBytes / s.bytesPerSecond)
            // Decide once a window has lasted, or should have lasted, `checkInterval`.
            guard elapsed >= Self.checkInterval || due >= Self.checkInterval else { return nil }
            s.windowStart = nil
            s.windowBytes = 0
            return due > elapsed ? due - elapsed : nil
        }
    }
}
