// A parked fetch (long poll): completed by the next append to a watched partition that brings
// enough bytes, or by max.wait.ms.
import NIOConcurrencyHelpers
import NIOCore

/// Something a partition wakes after an append.
protocol AppendWaiter: AnyObject, Sendable {
    func appended()
}

/// One parked fetch. `attempt(expired)` re-reads the partitions and returns true when it answered.
final class DelayedFetch: AppendWaiter {
    private struct State {
        var done = false
        var timer: Scheduled<Void>?
        var watched: [Partition] = []
        /// Coalesces wake-ups: one re-check is queued at a time.
        var checkQueued = false
    }
    let eventLoop: any EventLoop
    let deadline: NIODeadline
    private let attempt: @Sendable (_ expired: Bool) -> Bool
    private let state = NIOLockedValueBox(State())

    init(eventLoop: any EventLoop, deadline: NIODeadline, attempt: @escaping @Sendable (_ expired: Bool) -> Bool) {
        self.eventLoop = eventLoop
        self.deadline = deadline
        self.attempt = attempt
    }

    /// Watches the partitions and arms the timer; re-checks once at once in case an append slipped in
    /// between the first read and the registration.
    func start(watching partitions: [Partition]) {
        state.withLockedValue { $0.watched = partitions }
        for partition in partitions { partition.addWaiter(self) }
        let timer = eventLoop.scheduleTask(deadline: deadline) { [self] in self.check(expired: true) }
        state.withLockedValue { $0.timer = timer }
        appended()
    }

    func appended() {
        let shouldQueue = state.withLockedValue { s -> Bool in
            guard !s.done, !s.checkQueued else { return false }
            s.checkQueued = true
            return true
        }
        guard shouldQueue else { return }
        eventLoop.execute { [self] in self.check(expired: false) }
    }

    private func check(expired: Bool) {
        let proceed = state.withLockedValue { s -> Bool in
            s.checkQueued = false
            return !s.done
        }
        guard proceed, attempt(expired) else { return }
        let (timer, watched) = state.withLockedValue { s -> (Scheduled<Void>?, [Partition]) in
            s.done = true
            defer { s.timer = nil; s.watched = [] }
            return (s.timer, s.watched)
        }
        timer?.cancel()
        for partition in watched { partition.removeWaiter(self) }
    }
}
