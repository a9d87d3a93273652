// ThreadName: names the calling thread for `top -H`, `perf` and /proc/PID/task/*/comm. Foundation's
// `Thread.name` never reaches the kernel on Linux (the broker's threads all showed the name of the
// dispatch thread that created them), so each thread names itself when it starts. ThreadPriority: the
// background threads' lower CPU priority.
#if canImport(Glibc)
import Glibc
#endif

enum ThreadName {
    /// Names the calling thread; Linux keeps at most 15 characters.
    static func setCurrent(_ name: String) {
        #if os(Linux)
        _ = GlibcExtras.setThreadName?(pthread_self(), String(name.prefix(15)))
        #endif
    }
}

/// CPU priority of the storage's background threads (the cleaner, the file reclaimer): work that can wait
/// must not take a contended core from the request path.
enum ThreadPriority {
    /// The nice value of background threads: about a tenth of a contended core, all of an idle one.
    static let backgroundNice: Int32 = 10

    /// Lowers the calling thread's CPU priority to `backgroundNice` (Linux: nice is per thread).
    static func setCurrentBackground() {
        #if os(Linux)
        // who 0 with PRIO_PROCESS names the calling thread on Linux.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, backgroundNice)
        #endif
    }
}
