// Counters and latency histograms of `runnel perf`, shared between the sending loop, delivery callbacks
// and the once-a-second progress printer.
import Foundation
import Histogram
import Synchronization

/// Thread-safe throughput and latency statistics (latencies in microseconds, HdrHistogram).
final class PerfStats: Sendable {
    struct Window {
        var records = 0
        var bytes = 0
        var errors = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// One line of progress or the final summary.
    struct Snapshot: Encodable {
        var records: Int
        var errors: Int
        var seconds: Double
        var recordsPerSecond: Double
        var megabytesPerSecond: Double
        var latencyP50Ms: Double
        var latencyP99Ms: Double
        var latencyP999Ms: Double
        var latencyMaxMs: Double
        var latencyMeanMs: Double
    }

    /// The current window and the totals, behind one lock (one acquisition per update).
    private let windows = Mutex((current: Window(), total: Window()))
    let started = ContinuousClock.now
    private let windowStart = Mutex(ContinuousClock.now)

    /// Records one completed record of `bytes` with `latencyMicros` (nil when unknown).
    func record(bytes: Int, latencyMicros: UInt64?, failed: Bool = false) {
        windows.withLock {
            update(&$0.current, bytes: bytes, latency: latencyMicros, failed: failed)
            update(&$0.total, bytes: bytes, latency: latencyMicros, failed: failed)
        }
    }

    /// Records many completed records at once: `bytes` in total, one latency per record.
    func record(bytes: Int, latenciesMicros: [UInt64]) {
        windows.withLock { state in
            state.current.records += latenciesMicros.count
            state.current.bytes += bytes
            state.total.records += latenciesMicros.count
            state.total.bytes += bytes
            for latency in latenciesMicros {
                let clamped = min(latency, 60_000_000)
                _ = state.current.latency.record(clamped)
                _ = state.total.latency.record(clamped)
            }
        }
    }

    private func update(_ state: inout Window, bytes: Int, latency: UInt64?, failed: Bool) {
        if failed {
            state.errors += 1
            return
        }
        state.records += 1
        state.bytes += bytes
        if let latency { _ = state.latency.record(min(latency, 60_000_000)) }
    }

    /// The statistics since the last call, resetting the window.
    func takeWindow() -> Snapshot {
        let now = ContinuousClock.now
        let start = windowStart.withLock { value in
            let previous = value
            value = now
            return previous
        }
        let state = windows.withLock { value in
            let taken = value.current
            value.current = Window()
            return taken
        }
        return Self.snapshot(state, seconds: Self.seconds(now - start))
    }

    /// The statistics since the start.
    func totals() -> Snapshot {
        Self.snapshot(windows.withLock { $0.total }, seconds: Self.seconds(ContinuousClock.now - started))
    }

    var completed: Int { windows.withLock { $0.total.records + $0.total.errors } }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func snapshot(_ state: Window, seconds: Double) -> Snapshot {
        let span = max(seconds, 1e-9)
        let hasLatency = state.latency.totalCount > 0
        func ms(_ micros: UInt64) -> Double { hasLatency ? Double(micros) / 1000 : 0 }
        return Snapshot(records: state.records, errors: state.errors, seconds: seconds,
                        recordsPerSecond: Double(state.records) / span,
                        megabytesPerSecond: Double(state.bytes) / span / 1_048_576,
                        latencyP50Ms: ms(state.latency.valueAtPercentile(50)),
                        latencyP99Ms: ms(state.latency.valueAtPercentile(99)),
                        latencyP999Ms: ms(state.latency.valueAtPercentile(99.9)),
                        latencyMaxMs: ms(state.latency.max),
                        latencyMeanMs: hasLatency ? state.latency.mean / 1000 : 0)
    }

    /// A human line: `12345 records/s (11.8 MB/s), latency p50 1.2 ms p99 4.5 ms max 9.0 ms`.
    static func line(_ snapshot: Snapshot, prefix: String) -> String {
        String(format: "%@%d records, %.1f records/s (%.2f MB/s), latency p50 %.2f ms, p99 %.2f ms, max %.2f ms%@",
               prefix, snapshot.records, snapshot.recordsPerSecond, snapshot.megabytesPerSecond,
               snapshot.latencyP50Ms, snapshot.latencyP99Ms, snapshot.latencyMaxMs,
               snapshot.errors > 0 ? ", \(snapshot.errors) errors" : "")
    }

    /// Prints a progress line to stderr every second until cancelled.
    func startProgress() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                Terminal.printError(Self.line(takeWindow(), prefix: ""))
            }
        }
    }
}
