// `runnel quota set|list|remove`: client quotas with kafka-configs.sh's entity flags
// (AlterClientQuotas / DescribeClientQuotas).
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

/// The `quota` noun.
struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Set, list and remove client quotas (entities and keys as kafka-configs.sh).",
        discussion: """
        Entities: --user NAME | --user-default, --client ID | --client-default (each alone or a user with a
        client), or --ip ADDRESS | --ip-default. Keys: producer_byte_rate, consumer_byte_rate,
        request_percentage, controller_mutation_rate; connection_creation_rate for IP entities.

        EXAMPLES:
          runnel quota set --user alice --producer-byte-rate 1048576 --consumer-byte-rate 2097152
          runnel quota set --client-default --producer-byte-rate 10485760
          runnel quota set --user alice --client app --add-config producer_byte_rate=524288
          runnel quota set --ip 10.0.0.7 --connection-creation-rate 10
          runnel quota list
          runnel quota list --user alice
          runnel quota remove --user alice --delete-config producer_byte_rate
          runnel quota remove --client-default          # every key of the entity
        """,
        subcommands: [QuotaSet.self, QuotaList.self, QuotaRemove.self])
}

/// The entity flags, shared by the three verbs.
struct QuotaEntityOptions: ParsableArguments {
    @Option(help: "A user (the principal's name, e.g. alice for User:alice).") var user: String?
    @Flag(name: [.customLong("user-default"), .customLong("user-defaults")], help: "The default user entity (<default>).")
    var userDefault = false
    @Option(name: .customLong("client"), help: ArgumentHelp("A client id (kafka-configs.sh's --client; --client-id is this CLI's own client.id).", valueName: "id"))
    var client: String?
    @Flag(name: [.customLong("client-default"), .customLong("client-defaults")], help: "The default client-id entity (<default>).")
    var clientDefault = false
    @Option(help: "An IP address (connection_creation_rate only).") var ip: String?
    @Flag(name: [.customLong("ip-default"), .customLong("ip-defaults")], help: "The default IP entity (<default>).")
    var ipDefault = false

    /// (entity type, name or nil for <default>) for each flag given.
    func components() throws -> [(type: String, name: String?)] {
        var out: [(String, String?)] = []
        func add(_ type: String, _ name: String?, _ isDefault: Bool) throws {
            if name != nil && isDefault { throw CLIError.usage("give either --\(type == "client-id" ? "client" : type) or its -default flag, not both") }
            if let name { out.append((type, name)) } else if isDefault { out.append((type, nil)) }
        }
        try add("user", user, userDefault)
        try add("client-id", client, clientDefault)
        try add("ip", ip, ipDefault)
        return out
    }

    /// The components, which must name an entity.
    func entity() throws -> [(type: String, name: String?)] {
        let components = try components()
        guard !components.isEmpty else {
            throw CLIError.usage("name an entity: --user NAME, --user-default, --client ID, --client-default, --ip ADDRESS or --ip-default")
        }
        return components
    }
}

/// Renders an entity as kafka-configs.sh names it: `user=alice, client-id=<default>`.
func describeEntity(_ components: [(type: String, name: String?)]) -> String {
    components.map { "\($0.type)=\($0.name ?? "<default>")" }.joined(separator: ", ")
}

/// Sends one alteration of one entity and reports its outcome.
private func alter(_ components: [(type: String, name: String?)], ops: [AlterClientQuotasRequest.OpData],
                   connection: ConnectionOptions, done: String) async throws {
    var entry = AlterClientQuotasRequest.EntryData()
    entry.entity = components.map { component in
        var data = AlterClientQuotasRequest.EntityData()
        data.entityType = component.type
        data.entityName = component.name
        return data
    }
    entry.ops = ops
    var request = AlterClientQuotasRequest()
    request.entries = [entry]
    try await connection.run { client in
        let response = try await client.sendToAny(request)
        try failOnErrors(response.entries.map { AdminOutcome(subject: describeEntity(components), code: $0.errorCode, message: $0.errorMessage) })
        print(done)
    }
}

struct QuotaSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set quotas of an entity (other keys are kept).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var entity: QuotaEntityOptions
    @Option(help: ArgumentHelp("Bytes per second this entity may produce.", valueName: "bytes")) var producerByteRate: Int64?
    @Option(help: ArgumentHelp("Bytes per second this entity may fetch.", valueName: "bytes")) var consumerByteRate: Int64?
    @Option(help: ArgumentHelp("Percent of one thread's time the broker may spend on this entity's requests.", valueName: "percent"))
    var requestPercentage: Double?
    @Option(help: ArgumentHelp("Partitions created, added or deleted per second (KIP-599).", valueName: "rate")) var controllerMutationRate: Double?
    @Option(help: ArgumentHelp("New connections per second from an --ip entity.", valueName: "rate")) var connectionCreationRate: Int64?
    @Option(help: ArgumentHelp("key=value pairs, comma-separated, as kafka-configs.sh --add-config.", valueName: "k=v,…"))
    var addConfig: String?

    /// Every key and value the flags set.
    func values() throws -> [(String, Double)] {
        var values: [(String, Double)] = []
        let flags: [(String, Double?)] = [
            ("producer_byte_rate", producerByteRate.map(Double.init)), ("consumer_byte_rate", consumerByteRate.map(Double.init)),
            ("request_percentage", requestPercentage), ("controller_mutation_rate", controllerMutationRate),
            ("connection_creation_rate", connectionCreationRate.map(Double.init)),
        ]
        for (key, value) in flags { if let value { values.append((key, value)) } }
        for pair in (addConfig ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw CLIError.usage("--add-config takes key=number pairs, e.g. producer_byte_rate=1048576")
            }
            values.append((parts[0], value))
        }
        return values
    }

    func run() async throws {
        let components = try entity.entity()
        let values = try values()
        guard !values.isEmpty else { throw CLIError.usage("give a quota, e.g. --producer-byte-rate 1048576") }
        let ops = values.map { key, value in
            var op = AlterClientQuotasRequest.OpData()
            op.key = key
            op.value = value
            return op
        }
        try await alter(components, ops: ops, connection: connection,
                        done: "Set \(values.map { "\($0.0)=\(Self.format($0.1))" }.joined(separator: ", ")) for \(describeEntity(components)).")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

struct QuotaRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove quotas of an entity (all its keys when none is named).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var entity: QuotaEntityOptions
    @Option(help: ArgumentHelp("Keys to remove, comma-separated, as kafka-configs.sh --delete-config.", valueName: "key,…"))
    var deleteConfig: String?

    func run() async throws {
        let components = try entity.entity()
        var keys = (deleteConfig ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if keys.isEmpty {
            keys = components.contains { $0.type == "ip" } ? ["connection_creation_rate"]
                : ["producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"]
        }
        let ops = keys.map { key in
            var op = AlterClientQuotasRequest.OpData()
            op.key = key
            op.remove = true
            return op
        }
        try await alter(components, ops: ops, connection: connection,
                        done: "Removed \(keys.joined(separator: ", ")) for \(describeEntity(components)).")
    }
}

struct QuotaList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List quotas (all, or of the entities the flags match).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var entity: QuotaEntityOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Only entities with exactly the named types (DescribeClientQuotas strict).") var strict = false

    func run() async throws {
        var request = DescribeClientQuotasRequest()
        request.strict = strict
        request.components = try entity.components().map { type, name in
            var component = DescribeClientQuotasRequest.ComponentData()
            component.entityType = type
            component.matchType = name == nil ? 1 : 0  // MATCH_TYPE_DEFAULT / MATCH_TYPE_EXACT
            component.match = name
            return component
        }
        try await connection.run { client in
            let response = try await client.sendToAny(request)
            try failOnErrors([AdminOutcome(subject: nil, code: response.errorCode, message: response.errorMessage)])
            var rows: [[String: String]] = []
            for entry in response.entries ?? [] {
                let name = describeEntity(entry.entity.map { ($0.entityType, $0.entityName) })
                for value in entry.values {
                    rows.append(["entity": name, "key": value.key, "value": QuotaSet.format(value.value)])
                }
            }
            try printRows(rows, columns: ["entity", "key", "value"], json: output.isJSON)
        }
    }
}
