// `runnel consume TOPIC`: prints records from a position, a time or a group, as templates or JSON.
import ArgumentParser
import Foundation
import KafkaProtocol
import NIOCore
import RunnelClient

struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Print records of a topic.",
        discussion: """
        --from takes: beginning, end, an offset (42), a count before the end (-10),
        an ISO 8601 time (2026-01-01T00:00:00Z), a relative time (-1h, -30m, -2d)
        or @<epoch-millis>.

        FORMAT TOKENS (-f, like kcat):
          %t topic   %p partition   %o offset   %T timestamp (ms)   %d ISO time
          %k key     %K key length  %s value    %S value length     %h headers
          %% percent sign; escapes \\n \\t \\r \\\\. Use -f json for JSON lines.

        EXAMPLES:
          runnel consume events -e                             # everything, then exit
          runnel consume events --from -1h -n 100
          runnel consume events --from 2026-01-01T00:00:00Z -f '%p:%o %k=%s\\n'
          runnel consume events -p 0 --from 1200 -f json
          runnel consume events -g billing                     # in group billing
          runnel consume events -g billing --assignor cooperative-sticky
        """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The topic to consume.") var topic: String
    @Option(name: .long, parsing: .unconditional,
            help: "Where to start (see above). Default: beginning, or the group's committed offsets.")
    var from: String?
    @Option(name: .shortAndLong, help: "Only these partitions (repeatable).") var partition: [Int32] = []
    @Option(name: .shortAndLong, help: "Consume as a member of this group (commits offsets).") var group: String?
    @Option(name: .long, help: """
        Group assignor: range (eager rebalancing) or cooperative-sticky (incremental: \
        members keep consuming the partitions they retain while the group rebalances).
        """)
    var assignor: String = "range"
    @Option(name: [.customShort("n"), .long], help: "Stop after this many records.") var count: Int?
    @Flag(name: [.customShort("e"), .customLong("exit")], help: "Exit when the end of every partition is reached.")
    var exitAtEnd = false
    @Option(name: [.customShort("f"), .long], help: "Output: a template (see above) or json.")
    var format: String = "%s\\n"
    @Option(name: .long, help: "read_uncommitted or read_committed.") var isolation: String = "read_uncommitted"

    func validate() throws {
        if let count, count < 0 { throw ValidationError("--count must not be negative") }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let formatter = format.lowercased() == "json" ? RecordFormatter.json : try RecordFormatter(template: format)
            guard let isolationLevel = IsolationLevel(name: isolation) else {
                throw CLIError.usage("bad --isolation '\(isolation)'", hint: "use read_committed or read_uncommitted")
            }
            let start = try from.map { try StartPosition.parse($0) }
            var configuration = ConsumerConfiguration()
            configuration.isolationLevel = isolationLevel
            configuration.groupId = group
            guard let strategy = PartitionAssignmentStrategy(rawValue: assignor) else {
                throw CLIError.usage("unknown --assignor '\(assignor)'", hint: "use range or cooperative-sticky")
            }
            configuration.partitionAssignmentStrategy = strategy
            configuration.autoOffsetReset = .earliest
            if exitAtEnd { configuration.fetchMaxWaitMilliseconds = 100 }
            try await connection.withClient { client in
                let consumer = KafkaConsumer(client: client, configuration: configuration)
                if group != nil {
                    guard partition.isEmpty else {
                        throw CLIError.usage("--partition cannot be combined with --group",
                                             hint: "the group assigns partitions")
                    }
                    try await consumer.subscribe(topics: [topic], startingAt: start)
                } else {
                    try await consumer.assign(topic: topic, partitions: partition.isEmpty ? nil : partition,
                                              from: start ?? .beginning)
                }
                try await printRecords(consumer, formatter: formatter)
                await consumer.close()
            }
        }
    }

    private func printRecords(_ consumer: KafkaConsumer, formatter: RecordFormatter) async throws {
        var printed = 0
        var output = ByteBuffer()
        if count == 0 { return }
        // Ctrl-C ends the loop so a group member commits what it printed and leaves the group.
        let interrupt = InterruptFlag()
        let watchers = interrupt.install()
        defer { withExtendedLifetime(watchers) {} }
        while !interrupt.isRaised {
            if exitAtEnd, try await consumer.reachedEnd() { break }
            let records = try await consumer.poll()
            output.clear()
            for (index, record) in records.enumerated() {
                formatter.write(record, to: &output)
                printed += 1
                if let count, printed >= count {
                    await rewind(consumer, unprinted: records[(index + 1)...])
                    break
                }
            }
            Terminal.write(output)
            Terminal.flush()
            if let count, printed >= count { break }
        }
    }

    /// Moves positions back to the first record not printed, so a group commits only what was printed.
    private func rewind(_ consumer: KafkaConsumer, unprinted: ArraySlice<ConsumerRecord>) async {
        var first: [TopicPartition: Int64] = [:]
        for record in unprinted {
            let topicPartition = TopicPartition(topic: record.topic, partition: record.partition)
            first[topicPartition] = min(first[topicPartition] ?? record.offset, record.offset)
        }
        for (topicPartition, offset) in first { await consumer.seek(topicPartition, to: .offset(offset)) }
    }
}
