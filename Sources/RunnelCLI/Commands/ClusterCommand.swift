// `runnel cluster info`: cluster id, controller and brokers.
import ArgumentParser
import RunnelClient

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Describe the cluster.",
        discussion: """
        EXAMPLES:
          runnel cluster info
          runnel cluster info --format json
        """,
        subcommands: [ClusterInfo.self])
}

struct ClusterInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the cluster id, the controller and the brokers.",
        discussion: """
        EXAMPLES:
          runnel cluster info --brokers localhost:9092
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await connection.run { client in
            let cluster = try await KafkaAdmin(client: client).describeCluster()
            let topics = try await KafkaAdmin(client: client).listTopics(includeInternal: true)
            if output.isJSON {
                try Terminal.printJSON(Info(clusterId: cluster.clusterId, controllerId: cluster.controllerId,
                                            brokers: cluster.brokers, topicCount: topics.count))
                return
            }
            print("Cluster: \(cluster.clusterId ?? "-")")
            print("Controller: \(cluster.controllerId)")
            print("Topics: \(topics.count)")
            print("")
            Terminal.printTable(["ID", "HOST", "PORT", "RACK"], cluster.brokers.map {
                [String($0.nodeId) + ($0.nodeId == cluster.controllerId ? "*" : ""), $0.host, String($0.port),
                 $0.rack ?? "-"]
            })
        }
    }

    struct Info: Encodable {
        var clusterId: String?
        var controllerId: Int32
        var brokers: [BrokerMetadata]
        var topicCount: Int
    }
}
