// `runnel cluster info|brokers|elect-leaders|reassign|reassignments|log-dirs`: the cluster's controller, brokers
// and partition health, leader elections on demand (reassignment and log dirs: ClusterReassignCommands).
import ArgumentParser
import RunnelClient

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Describe the cluster; elect partition leaders; move partitions.",
        discussion: """
        EXAMPLES:
          runnel cluster info
          runnel cluster info --format json
          runnel cluster brokers
          runnel cluster elect-leaders
          runnel cluster elect-leaders --type unclean --topic orders --partition 3
          runnel cluster reassign --topic orders --partition 0 --replicas 2,3 --wait
          runnel cluster reassignments
          runnel cluster log-dirs
        """,
        subcommands: [ClusterInfo.self, ClusterBrokers.self, ClusterElectLeaders.self, ClusterReassign.self, ClusterReassignments.self,
                      ClusterLogDirs.self])
}

struct ClusterInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the cluster id, the controller, the brokers, and the offline and under-replicated partitions.",
        discussion: """
        A partition is offline when it has no leader, under-replicated when its ISR is smaller than its
        replica list.

        EXAMPLES:
          runnel cluster info --brokers localhost:9092
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await connection.run { client in
            let cluster = try await KafkaAdmin(client: client).describeCluster()
            let topics = try await KafkaAdmin(client: client).listTopics(includeInternal: true)
            let partitions = topics.flatMap(\.partitions)
            let info = Info(clusterId: cluster.clusterId, controllerId: cluster.controllerId, brokers: cluster.brokers,
                            topicCount: topics.count, partitionCount: partitions.count,
                            offlinePartitions: partitions.filter { $0.leader < 0 }.count,
                            underReplicatedPartitions: partitions.filter { $0.isr.count < $0.replicas.count }.count,
                            leaders: Dictionary(grouping: partitions.filter { $0.leader >= 0 }, by: \.leader).mapValues(\.count)
                                .reduce(into: [:]) { $0[String($1.key)] = $1.value })
            if output.isJSON {
                try Terminal.printJSON(info)
                return
            }
            print("Cluster: \(cluster.clusterId ?? "-")")
            print("Controller: \(cluster.controllerId)")
            print("Topics: \(topics.count)  partitions: \(info.partitionCount)  offline: \(info.offlinePartitions)  under-replicated: \(info.underReplicatedPartitions)")
            print("")
            Terminal.printTable(["ID", "HOST", "PORT", "RACK", "LEADERS"], cluster.brokers.map {
                [String($0.nodeId) + ($0.nodeId == cluster.controllerId ? "*" : ""), $0.host, String($0.port),
                 $0.rack ?? "-", String(info.leaders[String($0.nodeId)] ?? 0)]
            })
        }
    }

    struct Info: Encodable {
        var clusterId: String?
        var controllerId: Int32
        var brokers: [BrokerMetadata]
        var topicCount: Int
        var partitionCount: Int
        var offlinePartitions: Int
        var underReplicatedPartitions: Int
        /// Partitions led, by broker id.
        var leaders: [String: Int]
    }
}

struct ClusterBrokers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "brokers",
        abstract: "List the live brokers with the partitions each leads, hosts, and is out of sync on.",
        discussion: """
        LEADERS counts the partitions a broker leads, REPLICAS those it is assigned, OUT-OF-SYNC those
        it is assigned but not in the ISR of (catching up, or failed). The controller is marked *.

        EXAMPLES:
          runnel cluster brokers --brokers localhost:9092
          runnel cluster brokers --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            let cluster = try await admin.describeCluster()
            let partitions = try await admin.listTopics(includeInternal: true).flatMap(\.partitions)
            let rows = cluster.brokers.map { broker in
                Row(nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack,
                    controller: broker.nodeId == cluster.controllerId,
                    leaders: partitions.filter { $0.leader == broker.nodeId }.count,
                    replicas: partitions.filter { $0.replicas.contains(broker.nodeId) }.count,
                    outOfSync: partitions.filter { $0.replicas.contains(broker.nodeId) && !$0.isr.contains(broker.nodeId) }.count)
            }
            if output.isJSON {
                try Terminal.printJSON(rows)
                return
            }
            Terminal.printTable(["ID", "HOST", "PORT", "RACK", "LEADERS", "REPLICAS", "OUT-OF-SYNC"], rows.map {
                [String($0.nodeId) + ($0.controller ? "*" : ""), $0.host, String($0.port), $0.rack ?? "-",
                 String($0.leaders), String($0.replicas), String($0.outOfSync)]
            })
        }
    }

    struct Row: Encodable {
        var nodeId: Int32
        var host: String
        var port: Int32
        var rack: String?
        var controller: Bool
        var leaders: Int
        var replicas: Int
        var outOfSync: Int
    }
}

struct ClusterElectLeaders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elect-leaders", abstract: "Elect partition leaders: preferred replicas, or unclean for offline partitions.",
        discussion: """
        preferred (the default): each partition whose first replica is live and in the ISR gets it as
        leader. unclean: a partition without a leader gets any live replica as leader, even one that is
        not in sync (acknowledged records may be lost). Without --topic every partition is elected and
        only the ones that changed or failed are listed.

        EXAMPLES:
          runnel cluster elect-leaders
          runnel cluster elect-leaders --topic orders
          runnel cluster elect-leaders --type unclean --topic orders --partition 3
        """)

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case preferred, unclean
    }

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .customLong("type"), help: "preferred or unclean.") var kind: Kind = .preferred
    @Option(help: "Elect only this topic's partitions.") var topic: String?
    @Option(help: "Elect only this partition of --topic.") var partition: Int32?

    func validate() throws {
        if partition != nil && topic == nil {
            throw CLIError.usage("--partition needs --topic", hint: "runnel cluster elect-leaders --topic orders --partition 0")
        }
    }

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            var partitions: [String: [Int32]]?
            if let topic {
                if let partition {
                    partitions = [topic: [partition]]
                } else {
                    let described = try await admin.describeTopics([topic])
                    partitions = [topic: described.first?.partitions.map(\.partition) ?? []]
                }
            }
            let results = try await admin.electLeaders(kind == .preferred ? .preferred : .unclean, partitions: partitions)
            if output.isJSON {
                try Terminal.printJSON(results)
            } else if results.isEmpty {
                print("No partition needed an election.")
            } else {
                Terminal.printTable(["TOPIC", "PARTITION", "RESULT", "MESSAGE"], results.map {
                    [$0.topic, String($0.partition), $0.error ?? "elected", $0.message ?? ""]
                })
            }
            let failed = results.filter { $0.error != nil && $0.error != "ELECTION_NOT_NEEDED" }
            if !failed.isEmpty { throw CLIError.reported() }
        }
    }
}
