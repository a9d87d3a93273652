// `runnel replay`: starts (or resets) a consumer group at a time in every partition of a topic — the
// first step of a Kappa reprocessing — and optionally waits until the group has caught up.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Start a new consumer group at a time in a topic, and wait until it caught up.",
        discussion: """
        Commits, for a group without members, the first offset at or after --from in
        every partition (the end of the partition when no record is that late), and
        records the end offsets at that moment (or at --to). A consumer that then joins
        the group reads from --from up to those ends and on. The group must not exist
        (or, with --reset, exist without members): a group in use is never moved.

        --from and --to take the times of `runnel offsets --at`: an ISO 8601 time, a
        relative time (-1h, -2d), @<epoch-millis>, earliest or latest.

        --wait-caught-up prints one progress line a second (records left, rate and ETA
        in total and per partition; one OffsetFetch a second) until the group's
        committed offsets reach the end offsets, then exits 0. It exits 1 on
        --wait-timeout or when the group disappears (deleted, offsets expired).

        EXAMPLES:
          runnel replay --topic events --from 2026-01-01T00:00:00Z --group events-v2
          runnel replay --topic events --from -2d --to -1d --group backfill --wait-caught-up
          runnel replay --topic events --from earliest --group events-v2 --reset \\
            --wait-caught-up --wait-timeout 2h --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .shortAndLong, help: "The topic to replay.") var topic: String
    @Option(name: .long, parsing: .unconditional, help: "Start at the first record at or after this time.")
    var from: String
    @Option(name: .long, parsing: .unconditional, help: "Caught up at the first record at or after this time (default: the end offsets now).")
    var to: String?
    @Option(name: .shortAndLong, help: "The consumer group to create.") var group: String
    @Flag(help: "Reset the group if it exists (it must have no members).") var reset = false
    @Flag(help: "Wait until the group's committed offsets reach the end offsets.") var waitCaughtUp = false
    @Option(name: .long, help: ArgumentHelp("Give up waiting after this long (30s, 10m, 2h; default: no limit).", valueName: "duration"))
    var waitTimeout: String?

    /// What is printed (table) or emitted (one JSON line) once the group's offsets are committed.
    struct Started: Encodable {
        var event = "started"
        var group: String
        var topic: String
        var from: Int64
        var to: Int64?
        var records: Int64
        var partitions: [Partition]

        struct Partition: Encodable {
            var partition: Int32
            var start: Int64
            var end: Int64
            var records: Int64
        }
    }

    /// One progress line in JSON.
    struct Progress: Encodable {
        var event: String
        var group: String
        var status: CatchUpProgress.Status
    }

    func validate() throws {
        if waitTimeout != nil && !waitCaughtUp { throw ValidationError("--wait-timeout needs --wait-caught-up") }
        if let waitTimeout, Self.duration(waitTimeout) == nil {
            throw ValidationError("cannot read --wait-timeout '\(waitTimeout)' as a duration (30s, 10m, 2h)")
        }
    }

    /// A positive duration like `30s` or `2h` in milliseconds, read by the CLI's time parser as a time after 0.
    static func duration(_ text: String) -> Int64? {
        guard let millis = try? TimestampParser.parse("+" + text, now: 0), millis > 0 else { return nil }
        return millis
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let fromSpec = try OffsetsCommand.spec(from)
            let toSpec = try to.map(OffsetsCommand.spec)
            try await connection.withClient { client in
                let admin = KafkaAdmin(client: client)
                try await checkGroupMayBeReplayed(client: client, admin: admin)
                let starts = try await admin.startOffsets(topic: topic, spec: fromSpec)
                let rawEnds = try await admin.startOffsets(topic: topic, spec: toSpec ?? .latest)
                var startOffsets: [TopicPartition: Int64] = [:]
                var endOffsets: [TopicPartition: Int64] = [:]
                for (partition, start) in starts {
                    let key = TopicPartition(topic: topic, partition: partition)
                    startOffsets[key] = start
                    endOffsets[key] = max(start, rawEnds[partition] ?? start)
                }
                try await admin.resetGroupOffsets(group, offsets: startOffsets)
                try printStarted(startOffsets: startOffsets, endOffsets: endOffsets, fromSpec: fromSpec, toSpec: toSpec)
                if waitCaughtUp {
                    try await ReplayWaiter(client: client, group: group, endOffsets: endOffsets, json: output.isJSON,
                                           timeoutMilliseconds: waitTimeout.flatMap(Self.duration)).run()
                }
            }
        }
    }

    /// Refuses a group with members, and an existing group unless `--reset`.
    private func checkGroupMayBeReplayed(client: KafkaClient, admin: KafkaAdmin) async throws {
        let description: GroupDescription
        do {
            description = try await admin.describeGroup(group)
        } catch KafkaClientError.broker(code: .groupIdNotFound, _, _) {
            return
        }
        if !description.members.isEmpty {
            throw CLIError.failure("group '\(group)' has \(description.members.count) active member(s)",
                                   hint: "replay never moves a group in use; stop its consumers or pick a new group")
        }
        let hasOffsets = !(try await client.committedOffsets(group: group)).isEmpty
        let exists = description.state != "Empty" || hasOffsets
        if exists && !reset {
            throw CLIError.failure("group '\(group)' already exists",
                                   hint: "pick a new group name, or add --reset to move its offsets on '\(topic)'")
        }
    }

    private func printStarted(startOffsets: [TopicPartition: Int64], endOffsets: [TopicPartition: Int64],
                              fromSpec: OffsetSpec, toSpec: OffsetSpec?) throws {
        let partitions = startOffsets.keys.sorted().map { key in
            let start = startOffsets[key] ?? 0
            let end = endOffsets[key] ?? start
            return Started.Partition(partition: key.partition, start: start, end: end, records: end - start)
        }
        let total = partitions.reduce(0) { $0 + $1.records }
        let now = TimestampParser.nowMilliseconds()
        func millis(_ spec: OffsetSpec) -> Int64? {
            if case .timestamp(let value) = spec { return value }
            return nil
        }
        if output.isJSON {
            try Terminal.printJSONLine(Started(group: group, topic: topic, from: millis(fromSpec) ?? -1,
                                               to: toSpec.map { millis($0) ?? now }, records: total,
                                               partitions: partitions))
            return
        }
        let fromText = millis(fromSpec).map(TimestampParser.format) ?? from
        let toText = toSpec.map { spec in millis(spec).map(TimestampParser.format) ?? (to ?? "") }
        print("Group \(group) starts on \(topic) at \(fromText); \(total) record(s) to replay up to the end offsets "
              + (toText.map { "at \($0)." } ?? "recorded now."))
        Terminal.printTable(["PARTITION", "START", "END", "RECORDS"], partitions.map {
            [String($0.partition), String($0.start), String($0.end), String($0.records)]
        })
        Terminal.flush()
    }
}
