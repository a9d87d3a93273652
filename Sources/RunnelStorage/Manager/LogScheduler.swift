// LogScheduler: the LogManager's own background thread (not an event loop): flush.ms checks and
// `.deleted` removal every log.flush.scheduler.interval.ms, retention every
// log.retention.check.interval.ms, checkpoints, and the cleaner.
import Foundation

final class LogScheduler: @unchecked Sendable {
    // @unchecked: `stopping`/`stopped` are only read and written with `condition` locked.
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false
    private let configuration: LogManagerConfiguration

    init(configuration: LogManagerConfiguration) { self.configuration = configuration }

    func start(manager: LogManager) {
        let thread = Thread { [self, weak manager] in
            var lastRetention = configuration.clock()
            var lastCheckpoint = lastRetention
            var lastCleaner = lastRetention
            while true {
                condition.lock()
                if !stopping {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(max(configuration.flushSchedulerIntervalMs, 10)) / 1000))
                }
                if stopping {
                    stopped = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                condition.unlock()
                guard let manager else {
                    condition.lock()
                    stopped = true
                    condition.unlock()
                    return
                }
                let now = configuration.clock()
                let retention = now - lastRetention >= configuration.retentionCheckIntervalMs
                let cleaner = configuration.cleanerEnabled && now - lastCleaner >= configuration.cleanerBackoffMs
                manager.runBackgroundTasks(retention: retention, cleaner: cleaner)
                manager.removeDueFiles()
                if retention { lastRetention = now }
                if cleaner { lastCleaner = now }
                if now - lastCheckpoint >= configuration.checkpointIntervalMs {
                    manager.writeCheckpoints()
                    lastCheckpoint = now
                }
            }
        }
        thread.name = "runnel-log-scheduler"
        thread.start()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }
}
