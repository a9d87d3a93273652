// `runnel local-cluster`: etcd and N broker processes on loopback, in one command, until SIGINT/SIGTERM.
import ArgumentParser
import Dispatch
import Foundation
import RunnelClient
import RunnelEtcd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct LocalClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-cluster",
        abstract: "Run etcd and N brokers on loopback until SIGINT or SIGTERM.",
        discussion: """
        Starts `etcd` from PATH (data in DIR/etcd) and N `runnel broker` processes with node.id 1..N on \
        consecutive loopback ports from --port (data in DIR/node-<id>/data, log in DIR/node-<id>/broker.log), \
        with metadata.store=etcd. Prints the bootstrap servers and writes DIR/cluster.json: every node's id, \
        pid, port, data dir and the exact command that starts it again, and etcd's pid, endpoint and command. \
        A node that dies is not restarted. SIGINT/SIGTERM stop the brokers (SIGTERM, bounded wait), then etcd. \
        Running it again on the same DIR resumes the same cluster. The internal topics get min(3, N) replicas \
        (offsets.topic.replication.factor, transaction.state.log.replication.factor); topics get what \
        CreateTopics asks for (default.replication.factor otherwise).

        EXAMPLES:
          runnel local-cluster --nodes 3 --dir /tmp/runnel-cluster
          runnel local-cluster --nodes 3 --dir ./cluster --port 29092 --etcd-port 22379
          runnel local-cluster --nodes 3 --dir ./cluster --broker-override etcd.lease.ttl.ms=3000
          runnel local-cluster --nodes 3 --dir ./cluster --metrics-port 19644   # consoles on 19644-19646

        In --broker-override values, {id} becomes the node's id, {port} its Kafka port and {port+N} that \
        port plus N, for settings that differ per node (a second listener for inter-broker traffic):
          runnel local-cluster --nodes 3 --dir ./cluster \\
            --broker-override 'listeners=PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:{port+100}' \\
            --broker-override listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:SSL \\
            --broker-override inter.broker.listener.name=INTERNAL ...
        """)

    @Option(help: "Number of broker nodes (1-64).")
    var nodes: Int = 3

    @Option(help: ArgumentHelp("Directory for etcd's and the brokers' data, logs and cluster.json (created if missing).",
                               valueName: "dir"))
    var dir: String

    @Option(help: "Kafka port of node 1; node N listens on port + N - 1 (127.0.0.1).")
    var port: Int = 19092

    @Option(help: "etcd client port (127.0.0.1); its peer port is the next one.")
    var etcdPort: Int = 12379

    @Option(help: ArgumentHelp("metrics.listener (metrics and web console) port of node 1; node N uses port + N - 1 (127.0.0.1). Default: none.",
                               valueName: "port"))
    var metricsPort: Int?

    @Option(help: "etcd.prefix of the cluster's keys.")
    var etcdPrefix: String = "/runnel"

    @Option(name: .customLong("broker-override"),
            help: ArgumentHelp("A setting for every broker, passed on as `runnel broker --override` (repeatable); {id}, {port} and {port+N} are replaced per node.",
                               valueName: "key=value"))
    var brokerOverrides: [String] = []

    @Option(help: ArgumentHelp("Seconds to wait for etcd and every broker to answer.", valueName: "seconds"))
    var startTimeout: Int = 60

    @Option(help: ArgumentHelp("Seconds each broker gets to exit after SIGTERM before SIGKILL.", valueName: "seconds"))
    var stopTimeout: Int = 30

    func validate() throws {
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be between 1 and 64") }
        guard (1...65535).contains(port), port + nodes - 1 <= 65535 else {
            throw ValidationError("--port \(port) with \(nodes) nodes leaves the port range 1-65535")
        }
        guard (1...65534).contains(etcdPort) else { throw ValidationError("--etcd-port must be between 1 and 65534") }
        let kafkaPorts = port...(port + nodes - 1)
        guard !kafkaPorts.contains(etcdPort), !kafkaPorts.contains(etcdPort + 1) else {
            throw ValidationError("--etcd-port \(etcdPort) (and its peer port \(etcdPort + 1)) overlaps the broker ports \(kafkaPorts.lowerBound)-\(kafkaPorts.upperBound)")
        }
        guard startTimeout >= 1, stopTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 second") }
        for override in brokerOverrides where !override.contains("=") {
            throw ValidationError("--broker-override '\(override)' is not key=value")
        }
    }

    func run() async throws {
        let signals = StopSignals()
        let sources = signals.install()
        defer { for source in sources { source.cancel() } }
        let cluster = LocalCluster(plan: try plan(), signals: signals, stopTimeout: .seconds(stopTimeout))
        do {
            try await cluster.start(timeout: .seconds(startTimeout))
        } catch {
            await cluster.stop()
            throw error
        }
        if signals.received == nil {
            Terminal.flush()
            await cluster.superviseUntilSignal()
        }
        await cluster.stop()
        say("local-cluster stopped")
    }

    /// The processes to start, their ports, paths and command lines.
    private func plan() throws(CLIError) -> LocalCluster.Plan {
        let base = URL(fileURLWithPath: dir, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
        guard let etcd = Self.findInPath("etcd") else {
            throw CLIError.failure("etcd is not installed (no executable `etcd` in PATH)",
                                   hint: "install it (Debian: apt-get install etcd-server) or add its directory to PATH")
        }
        let runnel = Self.executablePath()
        let client = "http://127.0.0.1:\(etcdPort)", peer = "http://127.0.0.1:\(etcdPort + 1)"
        let etcdDir = base + "/etcd"
        let etcdCommand = [
            etcd, "--name", "runnel-local", "--data-dir", etcdDir + "/data",
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "runnel-local=\(peer)", "--log-level", "warn",
            // Runnel never compacts etcd's history itself; without compaction every ISR, leader and
            // topic change stays in etcd's database until its space quota (2 GiB) stops all writes.
            // A broker whose watch falls behind the compacted revision reloads the metadata.
            "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
        ]
        let nodePlans = (1...nodes).map { id in
            let nodeDir = base + "/node-\(id)"
            let kafkaPort = port + id - 1
            // The internal topics replicated as in a production cluster (Kafka's defaults: 3 replicas,
            // transactions need 2 in sync), within the number of nodes; --broker-override comes last and wins.
            let internalReplicas = min(3, nodes)
            let settings = [
                "node.id=\(id)", "listeners=PLAINTEXT://127.0.0.1:\(kafkaPort)", "log.dirs=\(nodeDir)/data",
                "metadata.store=etcd", "etcd.endpoints=\(client)", "etcd.prefix=\(etcdPrefix)",
                "metrics.listener=" + (metricsPort.map { "127.0.0.1:\($0 + id - 1)" } ?? ""),
                "offsets.topic.replication.factor=\(internalReplicas)",
                "transaction.state.log.replication.factor=\(internalReplicas)",
                "transaction.state.log.min.isr=\(min(2, internalReplicas))",
            ] + brokerOverrides.map { Self.expand($0, id: id, port: kafkaPort) }
            return LocalCluster.NodePlan(id: id, port: kafkaPort, directory: nodeDir, dataDir: nodeDir + "/data",
                                         command: [runnel, "broker"] + settings.flatMap { ["--override", $0] })
        }
        return LocalCluster.Plan(directory: base, etcdDir: etcdDir, etcdEndpoint: client, etcdPeerPort: etcdPort + 1,
                                 etcdPort: etcdPort, etcdCommand: etcdCommand, etcdPrefix: etcdPrefix, nodes: nodePlans)
    }

    /// `override` with `{id}`, `{port}` and `{port+N}` replaced by the node's id, Kafka port and port + N.
    static func expand(_ override: String, id: Int, port: Int) -> String {
        var result = ""
        var rest = Substring(override)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let name = rest[rest.index(after: open)..<close]
            if name == "id" {
                result += String(id)
            } else if name == "port" {
                result += String(port)
            } else if name.hasPrefix("port+"), let offset = Int(name.dropFirst(5)) {
                result += String(port + offset)
            } else {
                result += rest[open...close]  // not a placeholder: kept as written
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// The absolute path of this executable (the brokers run the same binary).
    private static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        let first = CommandLine.arguments.first ?? "runnel"
        if first.contains("/") {
            return URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                .standardizedFileURL.path
        }
        return findInPath(first) ?? first
    }

    /// The first executable `name` in PATH.
    private static func findInPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// SIGINT and SIGTERM, counted: the first asks for a graceful stop, a second one for SIGKILL of what is left.
final class StopSignals: Sendable {
    private let state = Mutex<(first: Int32?, count: Int)>((nil, 0))

    /// The first signal received, if any.
    var received: Int32? { state.withLock { $0.first } }
    /// How many signals arrived.
    var count: Int { state.withLock { $0.count } }

    /// Starts watching; keep the returned sources alive while watching.
    func install() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                state.withLock { state in
                    if state.first == nil { state.first = number }
                    state.count += 1
                }
            }
            source.resume()
            return source
        }
    }
}
