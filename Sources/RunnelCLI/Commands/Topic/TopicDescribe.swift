// `runnel topic describe`: partitions, leaders, replicas, ISR and configs of topics.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

struct TopicDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show partitions, leaders, replicas and configs of topics.",
        discussion: """
        EXAMPLES:
          runnel topic describe orders
          runnel topic describe orders --all-configs --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Topics to describe.") var names: [String]
    @Flag(help: "Show every config, not only those set on the topic.") var allConfigs = false

    struct Description: Encodable {
        var name: String
        var topicId: String
        var `internal`: Bool
        var partitions: [PartitionMetadata]
        var configs: [ConfigEntry]
    }

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            var descriptions: [Description] = []
            for topic in try await admin.describeTopics(names) {
                let configs = (try? await admin.describeConfigs(.topic, name: topic.name)) ?? []
                descriptions.append(Description(
                    name: topic.name, topicId: topic.topicId, internal: topic.isInternal,
                    partitions: topic.partitions,
                    configs: allConfigs ? configs : configs.filter { !$0.isDefault }))
            }
            if output.isJSON {
                try Terminal.printJSON(descriptions)
                return
            }
            for (index, description) in descriptions.enumerated() {
                if index > 0 { print("") }
                print("Topic: \(description.name)  id: \(description.topicId)  partitions: \(description.partitions.count)")
                Terminal.printTable(["PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE"],
                                    description.partitions.map { partition in
                    [String(partition.partition), String(partition.leader), String(partition.leaderEpoch),
                     partition.replicas.map(String.init).joined(separator: ","),
                     partition.isr.map(String.init).joined(separator: ","),
                     partition.offlineReplicas.map(String.init).joined(separator: ",")]
                })
                if !description.configs.isEmpty {
                    print("")
                    Terminal.printTable(["CONFIG", "VALUE", "SOURCE"], description.configs.map {
                        [$0.name, $0.isSensitive ? "(sensitive)" : ($0.value ?? ""), $0.source.description]
                    })
                }
            }
        }
    }
}
