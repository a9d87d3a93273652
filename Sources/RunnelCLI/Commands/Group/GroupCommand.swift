// `runnel group list|describe|seek|delete`: consumer group administration.
import ArgumentParser
import RunnelClient

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "List, describe, reset and delete consumer groups.",
        discussion: """
        EXAMPLES:
          runnel group list
          runnel group describe billing
          runnel group seek billing --topic orders --to-timestamp -1h
          runnel group delete billing
        """,
        subcommands: [GroupList.self, GroupDescribe.self, GroupSeek.self, GroupDelete.self])
}

struct GroupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List consumer groups.",
        discussion: """
        EXAMPLES:
          runnel group list --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await connection.run { client in
            let groups = try await KafkaAdmin(client: client).listGroups()
            if output.isJSON {
                try Terminal.printJSON(groups)
            } else {
                Terminal.printTable(["GROUP", "STATE", "PROTOCOL-TYPE"], groups.map {
                    [$0.groupId, $0.state ?? "-", $0.protocolType.isEmpty ? "-" : $0.protocolType]
                })
            }
        }
    }
}

struct GroupDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a group's members, their assignments, committed offsets and lag per partition.",
        discussion: """
        EXAMPLES:
          runnel group describe billing
          runnel group describe billing --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The group.") var group: String

    struct Report: Encodable {
        var group: GroupDescription
        var offsets: [GroupPartitionOffset]
        var totalLag: Int64
    }

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            let description = try await admin.describeGroup(group)
            let offsets = try await admin.groupOffsets(group, description: description)
            if description.state == "Empty" && offsets.isEmpty && description.members.isEmpty {
                throw CLIError.failure("group '\(group)' does not exist", hint: "list groups with `runnel group list`")
            }
            let totalLag = offsets.compactMap(\.lag).reduce(0, +)
            if output.isJSON {
                try Terminal.printJSON(Report(group: description, offsets: offsets, totalLag: totalLag))
                return
            }
            print("Group: \(description.groupId)  state: \(description.state)  protocol: \(description.protocolName.isEmpty ? "-" : description.protocolName)  members: \(description.members.count)  lag: \(totalLag)")
            if !description.members.isEmpty {
                print("")
                Terminal.printTable(["MEMBER", "CLIENT-ID", "HOST", "PARTITIONS"], description.members.map {
                    [$0.memberId, $0.clientId, $0.clientHost, $0.assignment.map(\.description).joined(separator: ",")]
                })
            }
            print("")
            Terminal.printTable(["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"], offsets.map {
                [$0.topic, String($0.partition), $0.committedOffset >= 0 ? String($0.committedOffset) : "-",
                 $0.logEndOffset >= 0 ? String($0.logEndOffset) : "-", $0.lag.map(String.init) ?? "-",
                 $0.memberId ?? "-"]
            })
        }
    }
}

struct GroupDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete groups (they must have no active members).",
        discussion: """
        EXAMPLES:
          runnel group delete billing
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Groups to delete.") var groups: [String]

    func validate() throws {
        guard !groups.isEmpty else { throw ValidationError("give at least one group") }
    }

    func run() async throws {
        try await connection.run { client in
            try await KafkaAdmin(client: client).deleteGroups(groups)
            if output.isJSON { try Terminal.printJSON(["deleted": groups]) } else {
                for group in groups { print("Deleted group \(group).") }
            }
        }
    }
}
