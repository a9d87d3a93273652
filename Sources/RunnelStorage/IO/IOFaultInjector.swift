// IOFaultInjector: a test hook on an I/O engine that fails chosen upcoming writes with an errno
// (ENOSPC, EIO) before they reach the disk, to prove the log's failure handling.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Fails the next writes with the queued error numbers, one per write.
final class IOFaultInjector: Sendable {
    private let queued = Mutex<[Int32]>([])
    /// Writes to let through before the queued failures apply.
    private let skip = Mutex(0)
    /// While true the engine leaves its queue alone, so a test can queue several appends into one batch.
    private let held = Mutex(false)
    /// While true the sync stage waits before its next fsync round (written bytes stay unsynced).
    private let syncsHeld = Mutex(false)
    /// One pass to hold: `armed` until a sync worker takes it, then `holding` until released.
    private let onePass = Mutex<(armed: Bool, holding: Bool)>((false, false))

    init() {}

    /// Fails the writes after the next `after` ones with `errnos`, in order.
    func failNextWrites(_ errnos: [Int32], after: Int = 0) {
        skip.withLock { $0 = after }
        queued.withLock { $0.append(contentsOf: errnos) }
    }

    /// Makes the engine wait before taking its next batch, until `release()`.
    func hold() { held.withLock { $0 = true } }

    func release() { held.withLock { $0 = false } }

    /// Called by the engine thread before it takes a batch; returns once writes are released.
    func waitWhileHeld() {
        while held.withLock({ $0 }) { usleep(200) }
    }

    /// Makes the sync stage wait before its next round of fsyncs, until `releaseSyncs()`.
    func holdSyncs() { syncsHeld.withLock { $0 = true } }

    func releaseSyncs() { syncsHeld.withLock { $0 = false } }

    /// Makes the next sync pass (only that one) wait before its fsyncs, until `releaseHeldSyncPass()`;
    /// other workers' passes go on meanwhile.
    func holdNextSyncPass() { onePass.withLock { $0.armed = true } }

    func releaseHeldSyncPass() { onePass.withLock { $0.holding = false } }

    /// Whether a pass is waiting in `holdNextSyncPass`'s hold.
    var isHoldingASyncPass: Bool { onePass.withLock { $0.holding } }

    /// Called by a sync worker before a pass; returns once syncs are released.
    func waitWhileSyncsHeld() {
        while syncsHeld.withLock({ $0 }) { usleep(200) }
        let held = onePass.withLock { state -> Bool in
            guard state.armed else { return false }
            state = (false, true)
            return true
        }
        if held { while onePass.withLock({ $0.holding }) { usleep(200) } }
    }

    /// The errno for this write, or nil to let it run.
    func nextFailure() -> Int32? {
        let pass = skip.withLock { count -> Bool in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
        if pass { return nil }
        return queued.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}
