// ThreadName: names the calling thread for `top -H`, `perf` and /proc/PID/task/*/comm. Foundation's
// `Thread.name` never reaches the kernel on Linux (the broker's threads all showed the name of the
// dispatch thread that created them), so each thread names itself when it starts.
#if canImport(Glibc)
import Glibc
#endif

enum ThreadName {
    #if os(Linux)
    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    /// glibc's pthread_setname_np (a GNU extension Swift's Glibc module does not import), looked up once.
    private static let setName: SetName? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np")
        .map { unsafeBitCast($0, to: SetName.self) }
    #endif

    /// Names the calling thread; Linux keeps at most 15 characters.
    static func setCurrent(_ name: String) {
        #if os(Linux)
        _ = setName?(pthread_self(), String(name.prefix(15)))
        #endif
    }
}
