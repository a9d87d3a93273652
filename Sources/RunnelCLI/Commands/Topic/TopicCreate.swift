// `runnel topic create`: creates topics with partitions, replication factor and configs.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

struct TopicCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create topics.",
        discussion: """
        EXAMPLES:
          runnel topic create events
          runnel topic create orders -p 6 -r 3 -c retention.ms=604800000
          runnel topic create state -c cleanup.policy=compact
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Names of the topics to create.") var names: [String]
    @Option(name: .shortAndLong, help: "Number of partitions (default: the broker's num.partitions).")
    var partitions: Int32 = -1
    @Option(name: [.short, .customLong("replication-factor")], help: "Replicas per partition (default: the broker's).")
    var replicationFactor: Int16 = -1
    @Option(name: [.short, .customLong("config")], help: ArgumentHelp("A topic config, repeatable.", valueName: "key=value"))
    var configs: [String] = []
    @Flag(help: "Succeed when the topic already exists.") var ifNotExists = false
    @Flag(help: "Only check that the topics could be created.") var validateOnly = false

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("give at least one topic name") }
        guard partitions == -1 || partitions > 0 else { throw ValidationError("--partitions must be positive") }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let configPairs = try parseConfigPairs(configs)
            try await connection.withClient { client in
                let admin = KafkaAdmin(client: client)
                let topics = names.map {
                    NewTopic(name: $0, numPartitions: partitions, replicationFactor: replicationFactor,
                             configs: Dictionary(configPairs, uniquingKeysWith: { _, last in last }))
                }
                let results = try await admin.createTopics(topics, validateOnly: validateOnly)
                var failures: [(String, KafkaClientError)] = []
                var rows: [[String]] = []
                var json: [[String: String]] = []
                for name in names {
                    let error = results[name] ?? nil
                    if let error, !(ifNotExists && error.errorCode == .topicAlreadyExists) {
                        failures.append((name, error))
                        rows.append([name, "ERROR", error.description])
                        json.append(["topic": name, "status": "error", "error": error.description])
                    } else {
                        let status = error == nil ? (validateOnly ? "VALID" : "CREATED") : "EXISTS"
                        rows.append([name, status, ""])
                        json.append(["topic": name, "status": status.lowercased()])
                    }
                }
                if !validateOnly {
                    let created = names.filter { (results[$0] ?? nil) == nil }
                    if !created.isEmpty { await admin.awaitTopics(created, present: true) }
                }
                if output.isJSON { try Terminal.printJSON(json) } else { Terminal.printTable(["TOPIC", "STATUS", "ERROR"], rows) }
                if let (_, error) = failures.first { throw error }
            }
        }
    }
}
