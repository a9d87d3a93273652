// LogScheduler: the LogManager's own background threads (not event loops). The scheduler: flush.ms
// checks and `.deleted` removal every log.flush.scheduler.interval.ms, retention every
// log.retention.check.interval.ms, checkpoints. The cleaner (Kafka's log cleaner thread): compaction
// every log.cleaner.backoff.ms, at a lower CPU priority (nice 10). Compaction reads whole segments
// and hashes every key; at normal priority on a 2-core machine it took half a
// core from the request path and a producer's p99 at half rate went from 6–8 ms to 150–500 ms while it
// ran (docs/benchmarks.md, session 18). At nice 10 it gets about a tenth of a contended core and all of
// an idle one.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class LogScheduler: @unchecked Sendable {
    // @unchecked: `stopping`/`running` are only read and written with `condition` locked.
    private let condition = NSCondition()
    private var stopping = false
    private var running = 0
    private let configuration: LogManagerConfiguration

    init(configuration: LogManagerConfiguration) { self.configuration = configuration }

    func start(manager: LogManager) {
        let configuration = configuration
        spawn(name: "runnel-logsched", every: max(configuration.flushSchedulerIntervalMs, 10), manager: manager) {
            var lastRetention = configuration.clock()
            var lastCheckpoint = lastRetention
            return { manager in
                let now = configuration.clock()
                let retention = now - lastRetention >= configuration.retentionCheckIntervalMs
                manager.runBackgroundTasks(retention: retention, cleaner: false)
                manager.removeDueFiles()
                if retention { lastRetention = now }
                if now - lastCheckpoint >= configuration.checkpointIntervalMs {
                    manager.writeCheckpoints()
                    lastCheckpoint = now
                }
            }
        }
        if configuration.cleanerEnabled {
            spawn(name: "runnel-cleaner", every: max(configuration.cleanerBackoffMs, 10), manager: manager) {
                ThreadPriority.setCurrentBackground()
                return { manager in manager.runCleaner() }
            }
        }
    }

    /// A thread that runs `makeBody` once (its setup, on the thread) and then the body it returns every
    /// `intervalMs` until `stop()` (or until the manager is gone).
    private func spawn(name: String, every intervalMs: Int64, manager: LogManager,
                       _ makeBody: @escaping @Sendable () -> (LogManager) -> Void) {
        condition.lock()
        running += 1
        condition.unlock()
        let thread = Thread { [self, weak manager] in
            ThreadName.setCurrent(name)
            let body = makeBody()
            while true {
                condition.lock()
                if !stopping {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(intervalMs) / 1000))
                }
                guard !stopping, let manager else {
                    running -= 1
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                condition.unlock()
                body(manager)
            }
        }
        thread.start()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}
