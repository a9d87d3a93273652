// `runnel group seek`: moves the committed offsets of a stopped group to a time, an offset or an end.
import ArgumentParser
import KafkaProtocol
import RunnelClient

struct GroupSeek: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seek", abstract: "Reset the committed offsets of a stopped group.",
        discussion: """
        The group must have no active members. Without --topic, every topic the
        group has offsets for.

        EXAMPLES:
          runnel group seek billing --topic orders --to-earliest
          runnel group seek billing --topic orders --to-timestamp 2026-01-01T00:00:00Z
          runnel group seek billing --topic orders -p 0 --to-offset 1200
          runnel group seek billing --to-latest --dry-run
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The group.") var group: String
    @Option(name: .shortAndLong, help: "The topic (default: all topics the group has offsets for).") var topic: String?
    @Option(name: .shortAndLong, help: "Only these partitions (repeatable).") var partition: [Int32] = []
    @Flag(help: "To the log start offset.") var toEarliest = false
    @Flag(help: "To the log end offset.") var toLatest = false
    @Option(help: "To this offset.") var toOffset: Int64?
    @Option(parsing: .unconditional, help: "To the first offset at or after this time (ISO 8601, -1h, @millis).")
    var toTimestamp: String?
    @Flag(help: "Show the new offsets without committing them.") var dryRun = false

    func validate() throws {
        let chosen = [toEarliest, toLatest, toOffset != nil, toTimestamp != nil].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-offset, --to-timestamp")
        }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let spec: OffsetSpec? = toEarliest ? .earliest : toLatest ? .latest
                : try toTimestamp.map { .timestamp(try TimestampParser.parse($0)) }
            try await connection.withClient { client in
                let admin = KafkaAdmin(client: client)
                var topics: [String]
                if let topic { topics = [topic] } else {
                    topics = Array(Set(try await client.committedOffsets(group: group).keys.map(\.topic))).sorted()
                    guard !topics.isEmpty else {
                        throw CLIError.usage("group '\(group)' has no committed offsets", hint: "name a topic with --topic")
                    }
                }
                var offsets: [TopicPartition: Int64] = [:]
                for name in topics {
                    let metadata = try await client.topicMetadata(name)
                    let indexes = partition.isEmpty ? metadata.partitions.map(\.partition) : partition
                    if let toOffset {
                        for index in indexes { offsets[TopicPartition(topic: name, partition: index)] = toOffset }
                    } else if let spec {
                        for (index, offset) in try await admin.startOffsets(topic: name, partitions: indexes, spec: spec) {
                            offsets[TopicPartition(topic: name, partition: index)] = offset
                        }
                    }
                }
                if !dryRun { try await admin.resetGroupOffsets(group, offsets: offsets) }
                let rows = offsets.sorted { $0.key < $1.key }
                if output.isJSON {
                    try Terminal.printJSON(rows.map {
                        NewOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value)
                    })
                } else {
                    Terminal.printTable(["TOPIC", "PARTITION", "NEW-OFFSET"], rows.map {
                        [$0.key.topic, String($0.key.partition), String($0.value)]
                    })
                    if dryRun { print("(dry run: nothing committed)") }
                }
            }
        }
    }

    struct NewOffset: Encodable {
        var topic: String
        var partition: Int32
        var offset: Int64
    }
}
