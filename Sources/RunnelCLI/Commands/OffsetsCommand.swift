// `runnel offsets TOPIC --at TIME`: the offset of each partition at a time, or its earliest/latest offset.
import ArgumentParser
import KafkaProtocol
import RunnelClient

struct OffsetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offsets", abstract: "Show the offsets of a topic's partitions at a time.",
        discussion: """
        --at takes: earliest, latest, max-timestamp, an ISO 8601 time, a relative
        time (-1h) or @<epoch-millis>.
        For a time, the offset is the first record at or after it (-1: none).

        EXAMPLES:
          runnel offsets orders                      # latest offsets (log end offsets)
          runnel offsets orders --at earliest
          runnel offsets orders --at 2026-01-01T00:00:00Z --format json
          runnel offsets orders --at -1h -p 0
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The topic.") var topic: String
    @Option(name: .long, parsing: .unconditional, help: "earliest, latest, max-timestamp, or a time (see above).")
    var at: String = "latest"
    @Option(name: .shortAndLong, help: "Only these partitions (repeatable).") var partition: [Int32] = []
    @Option(name: .long, help: "read_uncommitted or read_committed (latest = last stable offset).")
    var isolation: String = "read_uncommitted"

    /// Parses `--at`.
    static func spec(_ text: String) throws -> OffsetSpec {
        switch text.lowercased() {
        case "earliest", "beginning": return .earliest
        case "latest", "end": return .latest
        case "max-timestamp", "max": return .maxTimestamp
        default: return .timestamp(try TimestampParser.parse(text))
        }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let spec = try Self.spec(at)
            guard let isolationLevel = IsolationLevel(name: isolation) else {
                throw CLIError.usage("bad --isolation '\(isolation)'", hint: "use read_committed or read_uncommitted")
            }
            try await connection.withClient { client in
                let offsets = try await KafkaAdmin(client: client).listOffsets(
                    topic: topic, partitions: partition.isEmpty ? nil : partition, spec: spec, isolation: isolationLevel)
                if output.isJSON {
                    try Terminal.printJSON(offsets)
                } else {
                    Terminal.printTable(["PARTITION", "OFFSET", "TIMESTAMP"], offsets.map {
                        [String($0.partition), String($0.offset),
                         $0.timestamp >= 0 ? TimestampParser.format($0.timestamp) : "-"]
                    })
                }
            }
        }
    }
}
