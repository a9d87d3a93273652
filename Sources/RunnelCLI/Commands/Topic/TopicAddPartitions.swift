// `runnel topic add-partitions`: raises a topic's partition count.
import ArgumentParser
import RunnelClient

struct TopicAddPartitions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-partitions", abstract: "Raise the partition count of a topic.",
        discussion: """
        EXAMPLES:
          runnel topic add-partitions orders -p 12     # orders now has 12 partitions
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The topic.") var name: String
    @Option(name: .shortAndLong, help: "The new total number of partitions.") var partitions: Int32
    @Flag(help: "Only check that the change would be accepted.") var validateOnly = false

    func validate() throws {
        guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
    }

    func run() async throws {
        try await connection.run { client in
            try await KafkaAdmin(client: client).createPartitions(topic: name, totalCount: partitions,
                                                                  validateOnly: validateOnly)
            if output.isJSON {
                try Terminal.printJSON(TopicPartitions(topic: name, partitions: Int(partitions)))
            } else {
                print("Topic \(name) now has \(partitions) partitions.")
            }
        }
    }

    struct TopicPartitions: Encodable {
        var topic: String
        var partitions: Int
    }
}
