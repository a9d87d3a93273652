// `runnel topic list`: lists topics with their partition counts.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

struct TopicList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List topics.",
        discussion: """
        EXAMPLES:
          runnel topic list
          runnel topic list --internal --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Include internal topics (__consumer_offsets, ...).") var `internal` = false

    func run() async throws {
        try await connection.run { client in
            let topics = try await KafkaAdmin(client: client).listTopics(includeInternal: `internal`)
            if output.isJSON {
                try Terminal.printJSON(topics.map {
                    TopicSummary(name: $0.name, partitions: Int($0.partitionCount), replicas: $0.replicationFactor,
                                 internal: $0.isInternal)
                })
            } else {
                Terminal.printTable(["NAME", "PARTITIONS", "REPLICAS"], topics.map {
                    [$0.name, String($0.partitionCount), String($0.replicationFactor)]
                })
            }
        }
    }

    struct TopicSummary: Encodable {
        var name: String
        var partitions: Int
        var replicas: Int
        var `internal`: Bool
    }
}
