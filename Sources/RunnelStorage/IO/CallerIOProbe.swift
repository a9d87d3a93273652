// CallerIOProbe: a test hook counting the blocking file calls (fdatasync, directory fsync, pwrite of an
// index or small file) made outside the I/O engine, per calling thread. Tests use it to prove that the
// produce path (an event loop in the broker) only enqueues: roll-time index writes, producer snapshots and
// checkpoints run on the engine's threads. Off by default; when off it costs one relaxed atomic load.
import Glibc
import Synchronization

/// Counts blocking file calls per thread while enabled (tests only).
final class CallerIOProbe: Sendable {
    /// The process-wide probe.
    static let shared = CallerIOProbe()
    private let enabled = Atomic<Bool>(false)
    private let counts = Mutex<[UInt: Int]>([:])

    /// Starts counting from zero.
    func start() {
        counts.withLock { $0.removeAll() }
        enabled.store(true, ordering: .releasing)
    }

    /// Stops counting.
    func stop() { enabled.store(false, ordering: .releasing) }

    /// Records one blocking call on the current thread.
    func record() {
        guard enabled.load(ordering: .relaxed) else { return }
        let thread = UInt(pthread_self())
        counts.withLock { $0[thread, default: 0] += 1 }
    }

    /// Calls recorded on the thread `pthread_self()` of the caller.
    func countOnCurrentThread() -> Int {
        let thread = UInt(pthread_self())
        return counts.withLock { $0[thread] ?? 0 }
    }
}
