// EtcdTestServer: a real etcd process on free loopback ports in a temporary directory, for one test;
// it can be killed, restarted on the same data, paused and resumed.
import Foundation
import RunnelEtcd
import RunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One etcd member started for a test. `stop()` kills it and removes its directory.
final class EtcdTestServer: @unchecked Sendable {
    // Mutable only from the test that owns the server, one call at a time.
    let directory: String
    let clientPort: Int
    let peerPort: Int
    private var process: Process?

    /// The etcd binary: `$ETCD_BIN`, else `etcd` on PATH, else Debian's `/usr/bin/etcd`.
    static let binary: String? = {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [environment["ETCD_BIN"]].compactMap { $0 }
        for dir in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/etcd") }
        candidates.append("/usr/bin/etcd")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// True when tests needing etcd run here (always under CI, where a missing etcd fails them).
    static let runs = Prerequisites.runs(whenAvailable: binary != nil)

    /// The endpoint clients use.
    var endpoint: EtcdEndpoint { EtcdEndpoint(host: "127.0.0.1", port: clientPort) }

    /// Starts etcd and waits (bounded) until it answers. The ports are free when chosen, but another
    /// process may take one before etcd binds it (seen in CI: "bind: address already in use"): then it
    /// starts again on new ports, up to three times.
    static func start() async throws -> EtcdTestServer {
        let binary = try #require(binary, "etcd is not installed (Debian: apt-get install etcd-server; scripts/install-deps does it)")
        for attempt in 1...3 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runnel-etcd-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let server = EtcdTestServer(directory: directory, clientPort: try freePort(), peerPort: try freePort())
            if try await server.launch(binary: binary, portsMayBeTaken: attempt < 3) { return server }
        }
        throw CancellationError()  // the last attempt records its failure and throws
    }

    private init(directory: String, clientPort: Int, peerPort: Int) {
        self.directory = directory
        self.clientPort = clientPort
        self.peerPort = peerPort
    }

    /// Runs etcd until it answers: true. False (etcd stopped) when it exited because a port it was given
    /// was taken meanwhile and `portsMayBeTaken`; any other failure is recorded and thrown.
    private func launch(binary: String, portsMayBeTaken: Bool = false) async throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let client = "http://127.0.0.1:\(clientPort)", peer = "http://127.0.0.1:\(peerPort)"
        process.arguments = [
            "--name", "test", "--data-dir", directory + "/data",
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "test=\(peer)", "--log-level", "error",
        ]
        let log = FileManager.default.createFile(atPath: directory + "/etcd.log", contents: nil)
            ? FileHandle(forWritingAtPath: directory + "/etcd.log") : nil
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        let probe = EtcdClient(configuration: EtcdClientConfiguration(endpoints: [endpoint], requestTimeout: .milliseconds(500),
                                                                      connectTimeout: .milliseconds(200)))
        // etcd publishes itself through its own WAL before it serves: with a parallel suite fsyncing on a
        // slow disk that took over 20 s once (ten servers starting together); bounded, not tight.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await probe.range(.key("/ready-probe"))) != nil { return true }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let output = (try? String(contentsOfFile: directory + "/etcd.log", encoding: .utf8)) ?? ""
        stop()
        if portsMayBeTaken, output.contains("address already in use") { return false }
        Issue.record("etcd did not become ready on port \(clientPort): \(output.suffix(2000))")
        throw CancellationError()
    }

    /// SIGKILLs etcd (data stays) — a crash.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Starts etcd again on the same data and ports.
    func restart() async throws {
        kill()
        let binary = try #require(Self.binary)
        _ = try await launch(binary: binary)
    }

    /// SIGSTOPs etcd: connections stay open, nothing answers (a hung or partitioned member).
    func pause() {
        if let process { Glibc.kill(process.processIdentifier, SIGSTOP) }
    }

    /// SIGCONTs a paused etcd.
    func resume() {
        if let process { Glibc.kill(process.processIdentifier, SIGCONT) }
    }

    /// Kills etcd and deletes its directory.
    func stop() {
        resume()
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A loopback TCP port nobody listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        try #require(named == 0)
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
