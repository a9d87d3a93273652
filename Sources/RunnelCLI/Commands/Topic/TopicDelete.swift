// `runnel topic delete`: deletes topics.
import ArgumentParser
import KafkaProtocol
import RunnelClient

struct TopicDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete topics and all their records.",
        discussion: """
        EXAMPLES:
          runnel topic delete orders
          runnel topic delete old-a old-b --if-exists
          runnel topic delete events_v1 --force      # and the aliases pointing to it
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Topics to delete.") var names: [String]
    @Flag(help: "Succeed when a topic does not exist.") var ifExists = false
    @Flag(help: "Also delete the aliases that point to the topics (else the broker refuses).") var force = false

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("give at least one topic name") }
    }

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            var deleted: [String] = []
            for name in names {
                if force {
                    for alias in try await admin.listAliases() where alias.target == name {
                        try await admin.deleteAlias(alias.alias, expectedTarget: name)
                    }
                }
                do {
                    try await admin.deleteTopics([name])
                    deleted.append(name)
                } catch KafkaClientError.unknownTopic(_) where ifExists {
                    continue
                }
            }
            if !deleted.isEmpty { await admin.awaitTopics(deleted, present: false) }
            if output.isJSON {
                try Terminal.printJSON(["deleted": deleted])
            } else {
                for name in deleted { print("Deleted topic \(name).") }
            }
        }
    }
}
