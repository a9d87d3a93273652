// LocalCluster: the processes of `runnel local-cluster` — start in order with bounded readiness checks,
// report nodes that die, stop in order (brokers first, then etcd).
import Foundation
import RunnelClient
import RunnelEtcd

#if canImport(Glibc)
import Glibc
#endif

actor LocalCluster {
    struct NodePlan: Sendable {
        var id: Int
        var port: Int
        var directory: String
        var dataDir: String
        var command: [String]
        var logPath: String { directory + "/broker.log" }
    }

    struct Plan: Sendable {
        var directory: String
        var etcdDir: String
        var etcdEndpoint: String
        var etcdPeerPort: Int
        var etcdPort: Int
        var etcdCommand: [String]
        var etcdPrefix: String
        var nodes: [NodePlan]
        var bootstrapServers: String { nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }
        var clusterFile: String { directory + "/cluster.json" }
    }

    /// `DIR/cluster.json`.
    struct ClusterFile: Encodable {
        struct Etcd: Encodable {
            var pid: Int32
            var endpoint: String
            var prefix: String
            var dataDir: String
            var log: String
            var command: [String]
            var commandLine: String
        }
        struct Node: Encodable {
            var id: Int
            var pid: Int32
            var host: String
            var port: Int
            var dataDir: String
            var log: String
            var command: [String]
            var commandLine: String
        }
        var localClusterPid: Int32
        var bootstrapServers: String
        var etcd: Etcd
        var nodes: [Node]
    }

    private let plan: Plan
    private let signals: StopSignals
    private let stopTimeout: Duration
    private var etcd: ChildProcess?
    private var nodes: [Int: ChildProcess] = [:]
    private var reportedExits: Set<Int32> = []

    init(plan: Plan, signals: StopSignals, stopTimeout: Duration) {
        self.plan = plan
        self.signals = signals
        self.stopTimeout = stopTimeout
    }

    // MARK: Start

    /// Starts etcd, then every broker; returns early (nothing more started) when a stop signal arrives.
    func start(timeout: Duration) async throws(CLIError) {
        try makeDirectories()
        try checkPorts()
        let deadline = ContinuousClock.now + timeout

        say("starting etcd on \(plan.etcdEndpoint) (data in \(plan.etcdDir))")
        let etcd = try ChildProcess.spawn(plan.etcdCommand, logPath: plan.etcdDir + "/etcd.log")
        self.etcd = etcd
        try await waitForEtcd(etcd, deadline: deadline)
        if signals.received != nil { return }

        // Node 1 first, alone: it creates the internal topics, which the others then find in etcd.
        for batch in [Array(plan.nodes.prefix(1)), Array(plan.nodes.dropFirst())] where !batch.isEmpty {
            for node in batch {
                say("starting node \(node.id) on 127.0.0.1:\(node.port) (data in \(node.dataDir))")
                nodes[node.id] = try ChildProcess.spawn(node.command, logPath: node.logPath)
            }
            try await waitForBrokers(batch, deadline: deadline)
            if signals.received != nil { return }
        }

        try writeClusterFile()
        say("")
        say("Bootstrap servers: \(plan.bootstrapServers)")
        say("Cluster file: \(plan.clusterFile)")
        say("\(plan.nodes.count) node(s) and etcd are running; SIGINT (Ctrl-C) or SIGTERM stops them.")
    }

    private func makeDirectories() throws(CLIError) {
        do {
            for path in [plan.etcdDir] + plan.nodes.map(\.dataDir) {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
        } catch {
            throw CLIError.failure("could not create the directories under \(plan.directory): \(error.localizedDescription)")
        }
    }

    private func checkPorts() throws(CLIError) {
        var wanted = [(plan.etcdPort, "etcd's client port"), (plan.etcdPeerPort, "etcd's peer port")]
        wanted += plan.nodes.map { ($0.port, "node \($0.id)'s Kafka port") }
        for (port, role) in wanted where !loopbackPortIsFree(port) {
            throw CLIError.failure("port \(port) (\(role)) is already in use on 127.0.0.1",
                                   hint: "stop what listens there, or choose other ports with --port / --etcd-port")
        }
    }

    private func waitForEtcd(_ etcd: ChildProcess, deadline: ContinuousClock.Instant) async throws(CLIError) {
        guard let endpoint = EtcdEndpoint(parsing: plan.etcdEndpoint) else {
            throw CLIError.failure("bad etcd endpoint \(plan.etcdEndpoint)")
        }
        let probe = EtcdClient(configuration: EtcdClientConfiguration(endpoints: [endpoint], requestTimeout: .milliseconds(1000),
                                                                      connectTimeout: .milliseconds(300)))
        defer { probe.shutdown() }
        while signals.received == nil {
            if (try? await probe.range(.key(plan.etcdPrefix + "/cluster_id"))) != nil { return }
            if let exit = etcd.poll() {
                throw CLIError.failure("etcd exited (\(exit)) before it answered; last lines of \(etcd.logPath):\n\(etcd.logTail())",
                                       hint: "see \(etcd.logPath)")
            }
            guard ContinuousClock.now < deadline else {
                throw CLIError.failure("etcd did not answer on \(plan.etcdEndpoint) in time; last lines of \(etcd.logPath):\n\(etcd.logTail())",
                                       hint: "raise --start-timeout, or see \(etcd.logPath)")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func waitForBrokers(_ batch: [NodePlan], deadline: ContinuousClock.Instant) async throws(CLIError) {
        var pending = batch
        var configuration = ConnectionConfiguration()
        configuration.clientId = "runnel-local-cluster"
        configuration.connectTimeout = .milliseconds(500)
        configuration.requestTimeout = .milliseconds(2000)
        while signals.received == nil, !pending.isEmpty {
            var stillPending: [NodePlan] = []
            for node in pending {
                guard let process = nodes[node.id] else { continue }
                if let exit = process.poll() {
                    reportedExits.insert(process.pid)
                    throw CLIError.failure("node \(node.id) exited (\(exit)) before it answered; last lines of \(node.logPath):\n\(process.logTail())",
                                           hint: "see \(node.logPath)")
                }
                if let connection = try? await BrokerConnection.connect(to: BrokerAddress(host: "127.0.0.1", port: node.port),
                                                                        configuration: configuration) {
                    await connection.close()
                    say("node \(node.id) is ready (pid \(process.pid))")
                } else {
                    stillPending.append(node)
                }
            }
            pending = stillPending
            if pending.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                let names = pending.map { "node \($0.id) (\($0.logPath))" }.joined(separator: ", ")
                throw CLIError.failure("not every broker answered ApiVersions in time: \(names)",
                                       hint: "raise --start-timeout, or see the logs named")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func writeClusterFile() throws(CLIError) {
        guard let etcd else { return }
        let file = ClusterFile(
            localClusterPid: getpid(), bootstrapServers: plan.bootstrapServers,
            etcd: .init(pid: etcd.pid, endpoint: plan.etcdEndpoint, prefix: plan.etcdPrefix, dataDir: plan.etcdDir + "/data",
                        log: etcd.logPath, command: plan.etcdCommand, commandLine: plan.etcdCommand.map(shellQuoted).joined(separator: " ")),
            nodes: plan.nodes.compactMap { node in
                guard let process = nodes[node.id] else { return nil }
                return .init(id: node.id, pid: process.pid, host: "127.0.0.1", port: node.port, dataDir: node.dataDir,
                             log: node.logPath, command: node.command,
                             commandLine: node.command.map(shellQuoted).joined(separator: " "))
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            var data = try encoder.encode(file)
            data.append(0x0a)
            try data.write(to: URL(fileURLWithPath: plan.clusterFile), options: .atomic)
        } catch {
            throw CLIError.failure("could not write \(plan.clusterFile): \(error.localizedDescription)")
        }
    }

    // MARK: Run

    /// Waits for SIGINT/SIGTERM, reporting (once) every process that ends meanwhile; nothing is restarted.
    func superviseUntilSignal() async {
        while signals.received == nil {
            for node in plan.nodes {
                guard let process = nodes[node.id], !reportedExits.contains(process.pid), let exit = process.poll() else { continue }
                reportedExits.insert(process.pid)
                Terminal.printError("warning: node \(node.id) (pid \(process.pid)) ended (\(exit)); local-cluster does not restart it. "
                                    + "Log: \(node.logPath). Start it again with: \(node.command.map(shellQuoted).joined(separator: " "))")
            }
            if let etcd, !reportedExits.contains(etcd.pid), let exit = etcd.poll() {
                reportedExits.insert(etcd.pid)
                Terminal.printError("warning: etcd (pid \(etcd.pid)) ended (\(exit)); the brokers cannot change metadata "
                                    + "until it runs again. Log: \(etcd.logPath)")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: Stop

    /// SIGTERM to every broker, a bounded wait (a second signal cuts it short), SIGKILL to the rest; then etcd.
    func stop() async {
        let running = nodes.sorted { $0.key < $1.key }.map(\.value).filter(\.isRunning)
        if !running.isEmpty {
            say("stopping \(running.count) broker(s)")
            await terminate(running, name: "broker", timeout: stopTimeout)
        }
        if let etcd, etcd.isRunning {
            say("stopping etcd")
            await terminate([etcd], name: "etcd", timeout: .seconds(10))
        }
    }

    private func terminate(_ processes: [ChildProcess], name: String, timeout: Duration) async {
        let signalsBefore = signals.count
        for process in processes { process.send(SIGTERM) }
        let deadline = ContinuousClock.now + timeout
        while processes.contains(where: \.isRunning), ContinuousClock.now < deadline, signals.count <= max(signalsBefore, 1) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for process in processes where process.isRunning {
            Terminal.printError("warning: \(name) pid \(process.pid) still running; sending SIGKILL")
            process.send(SIGKILL)
            _ = await process.wait(timeout: .seconds(5))
        }
    }
}
