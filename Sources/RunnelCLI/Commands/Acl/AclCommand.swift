// `runnel acl add|list|remove`: ACLs with kafka-acls.sh's flags (CreateAcls / DescribeAcls / DeleteAcls).
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelBroker
import RunnelClient

/// The `acl` noun.
struct AclCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Add, list and remove ACLs (flags as kafka-acls.sh).",
        discussion: """
        EXAMPLES:
          runnel acl add --allow-principal User:bob --operation Write --topic orders
          runnel acl add --allow-principal User:app --operation Read --topic app- --resource-pattern-type prefixed
          runnel acl add --allow-principal User:app --operation Read --group app-group
          runnel acl add --deny-principal User:mallory --operation All --topic orders
          runnel acl list --topic orders
          runnel acl remove --allow-principal User:bob --operation Write --topic orders
        """,
        subcommands: [AclAdd.self, AclList.self, AclRemove.self])
}

/// The resource and entry flags shared by the three verbs.
struct AclOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Principal allowed (repeatable), e.g. User:bob.", valueName: "principal")) var allowPrincipal: [String] = []
    @Option(help: ArgumentHelp("Principal denied (repeatable).", valueName: "principal")) var denyPrincipal: [String] = []
    @Option(help: ArgumentHelp("Host the allow entries apply to (default *).", valueName: "host")) var allowHost: [String] = []
    @Option(help: ArgumentHelp("Host the deny entries apply to (default *).", valueName: "host")) var denyHost: [String] = []
    @Option(help: ArgumentHelp("Operation (repeatable): Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All.", valueName: "op"))
    var operation: [String] = []
    @Option(help: "Topic (repeatable; * for all).") var topic: [String] = []
    @Option(help: "Consumer group (repeatable; * for all).") var group: [String] = []
    @Option(help: "Transactional id (repeatable; * for all).") var transactionalId: [String] = []
    @Flag(help: "The cluster resource.") var cluster = false
    @Option(help: "literal (default), prefixed; for list/remove also match and any.") var resourcePatternType: String = "literal"
    @Option(help: "list: only entries of this principal.") var principal: String?

    func resources() -> [(AclResourceType, String)] {
        topic.map { (.topic, $0) } + group.map { (.group, $0) } + transactionalId.map { (.transactionalId, $0) }
            + (cluster ? [(.cluster, "kafka-cluster")] : [])
    }

    func patternType() throws -> AclPatternType {
        switch resourcePatternType.lowercased() {
        case "literal": return .literal
        case "prefixed": return .prefixed
        case "match": return .match
        case "any": return .any
        default: throw CLIError.usage("--resource-pattern-type must be literal, prefixed, match or any")
        }
    }

    func operations() throws -> [AclOperation] {
        try operation.map { name in
            guard let op = AclOperation(name: name), op != .unknown else {
                throw CLIError.usage("unknown operation '\(name)'", hint: "e.g. --operation Read")
            }
            return op
        }
    }

    /// The (principal, host, permission) entries the flags name.
    func entries() -> [(String, String, AclPermission)] {
        let allowHosts = allowHost.isEmpty ? ["*"] : allowHost
        let denyHosts = denyHost.isEmpty ? ["*"] : denyHost
        return allowPrincipal.flatMap { p in allowHosts.map { (p, $0, AclPermission.allow) } }
            + denyPrincipal.flatMap { p in denyHosts.map { (p, $0, AclPermission.deny) } }
    }
}

private func failIfErrors(_ codes: [(Int16, String?)]) throws {
    try failOnErrors(codes.map { AdminOutcome(subject: nil, code: $0.0, message: $0.1) })
}

struct AclAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add ACLs.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var acl: AclOptions

    func run() async throws {
        let pattern = try acl.patternType()
        guard pattern == .literal || pattern == .prefixed else { throw CLIError.usage("add takes --resource-pattern-type literal or prefixed") }
        let operations = try acl.operations()
        guard !operations.isEmpty else { throw CLIError.usage("give at least one --operation") }
        guard !acl.entries().isEmpty else { throw CLIError.usage("give --allow-principal or --deny-principal") }
        guard !acl.resources().isEmpty else { throw CLIError.usage("give --topic, --group, --transactional-id or --cluster") }
        var request = CreateAclsRequest()
        for (type, name) in acl.resources() {
            for (principal, host, permission) in acl.entries() {
                for operation in operations {
                    var creation = CreateAclsRequest.AclCreation()
                    creation.resourceType = type.rawValue
                    creation.resourceName = name
                    creation.resourcePatternType = pattern.rawValue
                    creation.principal = principal
                    creation.host = host
                    creation.operation = operation.rawValue
                    creation.permissionType = permission.rawValue
                    request.creations.append(creation)
                }
            }
        }
        try await connection.run { client in
            let response = try await client.sendToAny(request)
            try failIfErrors(response.results.map { ($0.errorCode, $0.errorMessage) })
            print("Added \(request.creations.count) ACL\(request.creations.count == 1 ? "" : "s").")
        }
    }
}

struct AclList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List ACLs.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var acl: AclOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        var resources: [(AclResourceType, String?)] = acl.resources().map { ($0.0, $0.1) }
        if resources.isEmpty { resources = [(.any, nil)] }
        let pattern = acl.resourcePatternType == "literal" && acl.resources().isEmpty ? AclPatternType.any : try acl.patternType()
        try await connection.run { client in
            var rows: [[String: String]] = []
            for (type, name) in resources {
                var request = DescribeAclsRequest()
                request.resourceTypeFilter = type.rawValue
                request.resourceNameFilter = name
                request.patternTypeFilter = pattern.rawValue
                request.principalFilter = acl.principal
                request.hostFilter = nil
                request.operation = AclOperation.any.rawValue
                request.permissionType = AclPermission.any.rawValue
                let response = try await client.sendToAny(request)
                try failIfErrors([(response.errorCode, response.errorMessage)])
                for resource in response.resources {
                    for entry in resource.acls {
                        rows.append([
                            "resource_type": AclResourceType(rawValue: resource.resourceType)?.name ?? "\(resource.resourceType)",
                            "resource_name": resource.resourceName,
                            "pattern_type": AclPatternType(rawValue: resource.patternType)?.name ?? "\(resource.patternType)",
                            "principal": entry.principal, "host": entry.host,
                            "operation": AclOperation(rawValue: entry.operation)?.name ?? "\(entry.operation)",
                            "permission": AclPermission(rawValue: entry.permissionType)?.name ?? "\(entry.permissionType)",
                        ])
                    }
                }
            }
            if output.isJSON {
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("RESOURCE\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
            for row in rows {
                print("\(row["resource_type"]!):\(row["resource_name"]!)\t\(row["pattern_type"]!)\t\(row["principal"]!)\t\(row["host"]!)\t\(row["operation"]!)\t\(row["permission"]!)")
            }
        }
    }
}

struct AclRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove the ACLs the flags match.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var acl: AclOptions

    func run() async throws {
        let pattern = try acl.patternType()
        let operations = try acl.operations()
        guard !acl.resources().isEmpty else { throw CLIError.usage("give --topic, --group, --transactional-id or --cluster") }
        var request = DeleteAclsRequest()
        let entries: [(String?, String?, AclPermission)] = acl.entries().isEmpty
            ? [(nil, nil, .any)] : acl.entries().map { ($0.0, $0.1, $0.2) }
        for (type, name) in acl.resources() {
            for (principal, host, permission) in entries {
                for operation in operations.isEmpty ? [AclOperation.any] : operations {
                    var filter = DeleteAclsRequest.DeleteAclsFilter()
                    filter.resourceTypeFilter = type.rawValue
                    filter.resourceNameFilter = name
                    filter.patternTypeFilter = pattern.rawValue
                    filter.principalFilter = principal
                    filter.hostFilter = host
                    filter.operation = operation.rawValue
                    filter.permissionType = permission.rawValue
                    request.filters.append(filter)
                }
            }
        }
        try await connection.run { client in
            let response = try await client.sendToAny(request)
            try failIfErrors(response.filterResults.map { ($0.errorCode, $0.errorMessage) })
            let removed = response.filterResults.reduce(0) { $0 + $1.matchingAcls.count }
            print("Removed \(removed) ACL\(removed == 1 ? "" : "s").")
        }
    }
}
