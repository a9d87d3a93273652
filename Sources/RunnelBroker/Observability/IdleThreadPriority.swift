// IdleThreadPriority: lowers the calling thread to Linux's SCHED_IDLE policy (or nice 19 where that is
// refused), so the thread runs on CPU time the Kafka listeners leave idle (decision 0015).
#if canImport(Glibc)
import Glibc
#endif

/// The scheduling of the metrics endpoint's low-priority thread (page and `/metrics` writing; its HTTP
/// thread stays at normal priority, decision 0019).
enum IdleThreadPriority: String, Sendable {
    /// `SCHED_IDLE`: runs only when no normal thread wants the CPU (a small share under full load).
    case idle = "SCHED_IDLE"
    /// `SCHED_IDLE` was refused; nice 19 (about 1.5% of a core against one busy normal thread).
    case nice19 = "nice 19"
    /// Neither could be set (not Linux, or both refused): the thread competes as a normal one.
    case unchanged = "unchanged"

    /// Linux's `SCHED_IDLE` (sched.h defines it only under _GNU_SOURCE, which Swift's Glibc does not import).
    private static let schedIdle: Int32 = 5

    /// Lowers the calling thread (on Linux the policy and the nice value are per thread: pid 0 / who 0
    /// name the calling thread, not the process) and says what was set.
    static func lowerCallingThread() -> IdleThreadPriority {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        if sched_setscheduler(0, schedIdle, &parameters) == 0 { return .idle }
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) == 0 { return .nice19 }
        #endif
        return .unchanged
    }

    /// The calling thread's policy as the kernel reports it (for tests and the start log line).
    static func callingThreadPolicy() -> Int32 {
        #if os(Linux)
        return sched_getscheduler(0)
        #else
        return -1
        #endif
    }
}
