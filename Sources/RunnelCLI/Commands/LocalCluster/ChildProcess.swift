// ChildProcess: a process started with posix_spawn for `runnel local-cluster` — in its own process
// group (a Ctrl-C on the terminal reaches only local-cluster, which then stops its children in order),
// with SIGINT/SIGTERM/SIGPIPE at their defaults, stdin from /dev/null and stdout/stderr appended to a
// log file. Exits are collected with waitpid on this pid only.
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
enum ChildExit: Sendable, CustomStringConvertible, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a waitpid status (the WIFEXITED / WTERMSIG encoding of Linux).
    init(status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "signal \(signal)"
        }
    }
}

/// One spawned process. Its exit is observed by `poll()` (non-blocking) or `wait(timeout:)`.
final class ChildProcess: Sendable {
    let pid: pid_t
    let arguments: [String]
    let logPath: String
    private let ended = Mutex<ChildExit?>(nil)

    private init(pid: pid_t, arguments: [String], logPath: String) {
        self.pid = pid
        self.arguments = arguments
        self.logPath = logPath
    }

    /// Starts `arguments[0]` (an absolute path) with `arguments`, output appended to `logPath`.
    static func spawn(_ arguments: [String], logPath: String) throws(CLIError) -> ChildProcess {
        guard let executable = arguments.first else { throw CLIError.failure("nothing to start") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw CLIError.failure("could not start \(executable): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, arguments: arguments, logPath: logPath)
    }

    /// The exit, if the process has ended (reaps it); nil while it runs.
    func poll() -> ChildExit? {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                ended = ChildExit(status: status)
            } else if result < 0 && errno == ECHILD {
                ended = .exited(-1)  // reaped elsewhere: gone, status unknown
            }
            return ended
        }
    }

    var isRunning: Bool { poll() == nil }

    /// Sends `signal` if the process still runs.
    func send(_ signal: Int32) {
        if isRunning { _ = kill(pid, signal) }
    }

    /// Polls until the process ends or `timeout` passes; nil if it still runs.
    func wait(timeout: Duration) async -> ChildExit? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let exit = poll() { return exit }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The last `maxBytes` of the log, for error messages.
    func logTail(maxBytes: Int = 2000) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data.suffix(maxBytes), as: UTF8.self)
    }
}

/// True if nothing listens on 127.0.0.1:`port` now (a bind with SO_REUSEADDR, as listeners do, succeeds).
func loopbackPortIsFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return bound == 0
}

/// Quotes `argument` for a POSIX shell when it needs it.
func shellQuoted(_ argument: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@%+")
    if !argument.isEmpty && argument.allSatisfy({ safe.contains($0) }) { return argument }
    return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Prints a progress line and flushes stdout at once (it is often a pipe or a file).
func say(_ line: String) {
    print(line)
    Terminal.flush()
}
