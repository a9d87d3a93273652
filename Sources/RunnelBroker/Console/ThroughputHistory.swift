// ThroughputHistory: what the console's charts draw — records produced and consumed per second and
// the total consumer lag, sampled every few seconds for the last minutes.
import Synchronization

/// A ring of samples taken by `sample(core:)` every `interval` (the broker's run loop calls it), so the
/// charts show the last minutes as soon as a page opens. Rates come from the growth of the sum of the
/// high watermarks (produced) and of the groups' committed offsets (consumed) between two samples.
final class ThroughputHistory: Sendable {
    struct Point: Sendable, Equatable {
        /// Milliseconds since the epoch.
        var time: Int64
        var producedPerSecond: Double
        var consumedPerSecond: Double
        var totalLag: Int64
    }

    private struct Totals {
        var time: Int64
        var produced: Int64
        var consumed: Int64
    }

    private struct State {
        var points: [Point] = []
        var last: Totals?
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 120) {
        self.capacity = capacity
    }

    var points: [Point] { state.withLock { $0.points } }

    /// Adds one sample from the totals now (the first call only sets the baseline).
    func record(time: Int64, produced: Int64, consumed: Int64, totalLag: Int64) {
        state.withLock { state in
            defer { state.last = Totals(time: time, produced: produced, consumed: consumed) }
            guard let last = state.last, time > last.time else { return }
            let seconds = Double(time - last.time) / 1000
            state.points.append(Point(time: time, producedPerSecond: Double(max(0, produced - last.produced)) / seconds,
                                      consumedPerSecond: Double(max(0, consumed - last.consumed)) / seconds, totalLag: totalLag))
            if state.points.count > capacity { state.points.removeFirst(state.points.count - capacity) }
        }
    }
}
