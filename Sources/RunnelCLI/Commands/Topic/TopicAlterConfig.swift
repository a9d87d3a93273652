// `runnel topic alter-config`: sets or deletes topic config overrides (IncrementalAlterConfigs).
import ArgumentParser
import RunnelClient

struct TopicAlterConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alter-config", abstract: "Set or delete config overrides of a topic.",
        discussion: """
        EXAMPLES:
          runnel topic alter-config orders -c retention.ms=3600000
          runnel topic alter-config orders --delete retention.ms
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The topic.") var name: String
    @Option(name: [.short, .customLong("config")], help: ArgumentHelp("A config to set, repeatable.", valueName: "key=value"))
    var configs: [String] = []
    @Option(name: .customLong("delete"), help: ArgumentHelp("A config override to remove, repeatable.", valueName: "key"))
    var deletions: [String] = []
    @Flag(help: "Only check that the change would be accepted.") var validateOnly = false

    func validate() throws {
        guard !configs.isEmpty || !deletions.isEmpty else { throw ValidationError("give -c key=value or --delete key") }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let changes = try parseConfigPairs(configs).map { ConfigChange.set($0.0, $0.1) }
                + deletions.map { ConfigChange.delete($0) }
            try await connection.withClient { client in
                try await KafkaAdmin(client: client).alterConfigs(.topic, name: name, changes: changes,
                                                                  validateOnly: validateOnly)
                if output.isJSON {
                    try Terminal.printJSON(["topic": name, "status": validateOnly ? "valid" : "altered"])
                } else {
                    print("\(validateOnly ? "Validated" : "Altered") \(changes.count) config(s) of topic \(name).")
                }
            }
        }
    }
}
