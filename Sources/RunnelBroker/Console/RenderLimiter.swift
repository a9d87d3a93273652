// RenderLimiter: one console page rendered at a time, so page loads — however many browsers send them
// — use at most one core's worth of CPU and leave the rest to the Kafka listeners.

/// An async mutex with a bounded queue: `withPermit` runs its body when no other body runs; with
/// `maxWaiting` bodies already queued it answers nil at once (the console then says it is busy).
actor RenderLimiter {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    let maxWaiting: Int

    init(maxWaiting: Int = 256) {
        self.maxWaiting = maxWaiting
    }

    /// Runs `body` alone, or returns nil when too many are waiting.
    func withPermit<T: Sendable>(_ body: @Sendable () async -> T) async -> T? {
        if busy {
            guard waiters.count < maxWaiting else { return nil }
            await withCheckedContinuation { waiters.append($0) }
        }
        busy = true
        let result = await body()
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()  // hands the permit over: `busy` stays true
        }
        return result
    }
}
