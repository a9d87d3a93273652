// GlibcExtras: the glibc functions (GNU extensions, Linux system call wrappers) that Swift's Glibc module
// does not export, each looked up once by name. nil where the C library lacks one: callers fall back
// (or treat the feature as absent).
#if canImport(Glibc)
import Glibc
#endif

enum GlibcExtras {
    /// pwritev2: positional vector writes with per-call RWF_* flags.
    static let pwritev2: (@convention(c) (Int32, UnsafePointer<iovec>?, Int32, off_t, Int32) -> Int)? = lookup("pwritev2")
    /// fallocate(fd, mode, offset, length).
    static let fallocate: (@convention(c) (Int32, Int32, Int64, Int64) -> Int32)? = lookup("fallocate64")
    /// sync_file_range(fd, offset, length, flags).
    static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = lookup("sync_file_range")
    /// syncfs(fd).
    static let syncfs: (@convention(c) (Int32) -> Int32)? = lookup("syncfs")
    /// pthread_setname_np(thread, name).
    static let setThreadName: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32)? = lookup("pthread_setname_np")

    private static func lookup<Function>(_ name: String) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Function.self) }
    }
}
