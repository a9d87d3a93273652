// `runnel alias create|list|describe|delete|swap`: topic aliases (a Runnel extension), managed over
// Kafka's config APIs so any admin client can do the same (docs/kappa.md).
import ArgumentParser
import KafkaProtocol
import RunnelClient

struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias", abstract: "Create, list, swap and delete topic aliases.",
        discussion: """
        An alias is a name that resolves to one topic: clients produce to, consume from
        and commit offsets on the alias, and the broker acts on its target. A swap
        changes the target in one metadata step; clients follow at their next metadata
        refresh. Aliases point to topics, never to other aliases.

        EXAMPLES:
          runnel alias create serving --to events_v1
          runnel alias swap serving --to events_v2 --expect events_v1
          runnel alias swap serving --to events_v2 --translate-offsets --group dashboard
          runnel alias list
          runnel alias describe serving --format json
          runnel alias delete serving
        """,
        subcommands: [AliasCreate.self, AliasList.self, AliasDescribe.self, AliasSwap.self, AliasDelete.self])
}

extension ConnectionOptions {
    /// Runs an alias command: broker refusals get hints about aliases instead of topics.
    func runAlias(_ body: (KafkaClient) async throws -> Void) async throws {
        try await run { client in
            do {
                try await body(client)
            } catch KafkaClientError.broker(let code, let context, let message) {
                throw CLIError.failure("\(context): \(code.name)" + (message.map { " (\($0))" } ?? ""),
                                       hint: Self.aliasHint(for: code))
            } catch KafkaClientError.unknownTopic(let name) {
                throw CLIError.failure("there is no alias (or topic) '\(name)'", hint: "list aliases with `runnel alias list`")
            }
        }
    }

    private static func aliasHint(for code: ErrorCode) -> String? {
        switch code {
        case .topicAlreadyExists: "pick another alias name, or `runnel alias swap` an existing alias"
        case .unknownTopicOrPartition: "list topics with `runnel topic list` and aliases with `runnel alias list`"
        case .invalidUpdateVersion: "check the alias with `runnel alias describe` and decide again"
        case .invalidConfig, .invalidTopicException: "aliases point to topics (not aliases or internal topics); see `runnel alias --help`"
        default: code.isRetriable ? "the condition may be temporary; retry" : nil
        }
    }
}

struct AliasCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an alias of a topic.",
        discussion: """
        EXAMPLES:
          runnel alias create serving --to events_v1
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The alias name (no topic may have it).") var name: String
    @Option(help: "The topic it resolves to.") var to: String

    func run() async throws {
        try await connection.runAlias { client in
            try await KafkaAdmin(client: client).setAlias(name, target: to, expectedTarget: "")
            if output.isJSON { try Terminal.printJSON(AliasListing(alias: name, target: to)) } else {
                print("Created alias \(name) -> \(to).")
            }
        }
    }
}

struct AliasList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List aliases and their targets.",
        discussion: """
        EXAMPLES:
          runnel alias list --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await connection.runAlias { client in
            let aliases = try await KafkaAdmin(client: client).listAliases()
            if output.isJSON { try Terminal.printJSON(aliases) } else {
                Terminal.printTable(["ALIAS", "TARGET"], aliases.map { [$0.alias, $0.target] })
            }
        }
    }
}

struct AliasDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show an alias's target, its topic id and partitions.",
        discussion: """
        EXAMPLES:
          runnel alias describe serving
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The alias.") var name: String

    struct Report: Encodable {
        var alias: String
        var target: String
        var topicId: String
        var partitions: Int
    }

    func run() async throws {
        try await connection.runAlias { client in
            let admin = KafkaAdmin(client: client)
            guard let target = try await admin.aliasTarget(name) else {
                throw CLIError.failure("'\(name)' is a topic, not an alias", hint: "see it with `runnel topic describe \(name)`")
            }
            let metadata = try await client.topicMetadata(name, forceRefresh: true)
            let report = Report(alias: name, target: target, topicId: "\(metadata.topicId)",
                                partitions: metadata.partitions.count)
            if output.isJSON { try Terminal.printJSON(report) } else {
                print("Alias \(name) -> \(target)  topic id: \(report.topicId)  partitions: \(report.partitions)")
            }
        }
    }
}

struct AliasSwap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap", abstract: "Point an alias at another topic, atomically.",
        discussion: """
        The swap is a compare-and-swap on the alias: with --expect it is refused when
        the alias no longer points to that topic (someone swapped first); without it,
        it is refused when the alias changed between reading and writing it.
        --translate-offsets moves each --group's committed offsets from the old target
        to the new one by time: every partition of the new target starts at the first
        record at or after the earliest timestamp among the last records the group
        consumed (at-least-once: records at that instant may come again; none after it
        is skipped). The groups may be running: their members fetch nothing of the new
        target from just before the swap until they are assigned it again; right after
        the swap each group's generation is fenced (a rebalance; its members' late
        commits are refused) and the offsets are committed in the same step; the moved
        partitions then leave the members' assignments for one generation and come back
        as new ones, so every consumer (eager or cooperative) starts at the moved offsets.

        EXAMPLES:
          runnel alias swap serving --to events_v2
          runnel alias swap serving --to events_v2 --expect events_v1
          runnel alias swap serving --to events_v2 --translate-offsets --group dashboard
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The alias.") var name: String
    @Option(help: "The new target topic.") var to: String
    @Option(help: "Refuse unless the alias points to this topic now.") var expect: String?
    @Flag(help: "Move the --group offsets from the old target to the new one by timestamp.") var translateOffsets = false
    @Option(name: .shortAndLong, help: "A group whose offsets move (repeatable; with --translate-offsets; may be running).")
    var group: [String] = []

    struct Report: Encodable {
        var alias: String
        var from: String
        var to: String
        var offsets: [String: [TranslatedOffset]]
    }

    func validate() throws {
        if translateOffsets && group.isEmpty { throw ValidationError("--translate-offsets needs at least one --group") }
        if !group.isEmpty && !translateOffsets { throw ValidationError("--group needs --translate-offsets") }
    }

    func run() async throws {
        try await connection.runAlias { client in
            let admin = KafkaAdmin(client: client)
            guard let current = try await admin.aliasTarget(name) else {
                throw CLIError.failure("'\(name)' is a topic, not an alias", hint: "create an alias with `runnel alias create`")
            }
            if let expect, expect != current {
                throw CLIError.failure("alias '\(name)' points to '\(current)', not '\(expect)': someone swapped first",
                                       hint: "check with `runnel alias describe \(name)` and decide again")
            }
            var translated: [String: [TranslatedOffset]] = [:]
            for group in group {
                translated[group] = try await admin.translatedGroupOffsets(group: group, from: current, to: to)
            }
            // Before the swap: the groups' running members fetch nothing of the new target until they
            // have read their moved offsets (so no fetch at an old position slips in before the fence).
            for group in translated.keys.sorted() { try await admin.holdTopics([to], forGroup: group) }
            try await admin.setAlias(name, target: to, expectedTarget: current)
            // After the swap: the fence refuses whatever the groups' running members still commit from
            // positions learned in the old target, and the offsets land in the same coordinator step.
            for (group, offsets) in translated.sorted(by: { $0.key < $1.key }) {
                do {
                    try await admin.fenceGroup(group, offsets: offsets)
                } catch {
                    throw CLIError.failure("swapped alias \(name) to \(to), but group '\(group)' was not moved: \(error)",
                                           hint: "move it with `runnel group seek` once its consumers are stopped")
                }
            }
            if output.isJSON {
                try Terminal.printJSON(Report(alias: name, from: current, to: to, offsets: translated))
                return
            }
            print("Swapped alias \(name): \(current) -> \(to).")
            for (group, offsets) in translated.sorted(by: { $0.key < $1.key }) {
                print("")
                print("Group \(group) now starts \(to) at:")
                Terminal.printTable(["PARTITION", "OFFSET"], offsets.map { [String($0.partition), String($0.offset)] })
            }
        }
    }
}

struct AliasDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete an alias (its target topic stays).",
        discussion: """
        EXAMPLES:
          runnel alias delete serving
          runnel alias delete serving --expect events_v2
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The alias.") var name: String
    @Option(help: "Refuse unless the alias points to this topic now.") var expect: String?

    func run() async throws {
        try await connection.runAlias { client in
            try await KafkaAdmin(client: client).deleteAlias(name, expectedTarget: expect)
            if output.isJSON { try Terminal.printJSON(["deleted": name]) } else { print("Deleted alias \(name).") }
        }
    }
}
