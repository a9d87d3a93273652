// Acl: Kafka's access control model — resource patterns, entries, filters — and its storage as
// cluster records (kind `acl`, one record per binding).
import Foundation
import RunnelCluster

/// Kafka's resource types (wire codes).
public enum AclResourceType: Int8, Sendable, Codable, CaseIterable {
    case unknown = 0, any = 1, topic = 2, group = 3, cluster = 4, transactionalId = 5, delegationToken = 6, user = 7

    /// The name kafka-acls.sh prints (`Topic`, `Group`, …).
    public var name: String {
        switch self {
        case .unknown: "Unknown"
        case .any: "Any"
        case .topic: "Topic"
        case .group: "Group"
        case .cluster: "Cluster"
        case .transactionalId: "TransactionalId"
        case .delegationToken: "DelegationToken"
        case .user: "User"
        }
    }
}

/// Kafka's pattern types.
public enum AclPatternType: Int8, Sendable, Codable, CaseIterable {
    case unknown = 0, any = 1, match = 2, literal = 3, prefixed = 4

    public var name: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .match: "MATCH"
        case .literal: "LITERAL"
        case .prefixed: "PREFIXED"
        }
    }
}

/// Kafka's operations.
public enum AclOperation: Int8, Sendable, Codable, CaseIterable {
    case unknown = 0, any = 1, all = 2, read = 3, write = 4, create = 5, delete = 6, alter = 7, describe = 8
    case clusterAction = 9, describeConfigs = 10, alterConfigs = 11, idempotentWrite = 12, createTokens = 13
    case describeTokens = 14

    /// kafka-acls.sh's spelling (`Read`, `DescribeConfigs`, …).
    public var name: String {
        switch self {
        case .unknown: "Unknown"
        case .any: "Any"
        case .all: "All"
        case .read: "Read"
        case .write: "Write"
        case .create: "Create"
        case .delete: "Delete"
        case .alter: "Alter"
        case .describe: "Describe"
        case .clusterAction: "ClusterAction"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .idempotentWrite: "IdempotentWrite"
        case .createTokens: "CreateTokens"
        case .describeTokens: "DescribeTokens"
        }
    }

    /// Parses kafka-acls.sh's spelling, case-insensitively, with or without underscores.
    public init?(name: String) {
        let wanted = name.replacingOccurrences(of: "_", with: "").lowercased()
        guard let found = Self.allCases.first(where: { $0.name.lowercased() == wanted }) else { return nil }
        self = found
    }
}

/// ALLOW or DENY.
public enum AclPermission: Int8, Sendable, Codable, CaseIterable {
    case unknown = 0, any = 1, deny = 2, allow = 3

    public var name: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .deny: "DENY"
        case .allow: "ALLOW"
        }
    }
}

/// One ACL: a resource pattern and an access control entry.
public struct AclBinding: Sendable, Hashable, Codable {
    public var resourceType: AclResourceType
    public var resourceName: String
    public var patternType: AclPatternType
    public var principal: String
    public var host: String
    public var operation: AclOperation
    public var permission: AclPermission

    public init(resourceType: AclResourceType, resourceName: String, patternType: AclPatternType, principal: String,
                host: String, operation: AclOperation, permission: AclPermission) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Why the binding cannot be stored (Kafka's checks), nil when it can.
    public var invalidReason: String? {
        if [.unknown, .any].contains(resourceType) { return "Invalid resource type \(resourceType.name)" }
        if ![.literal, .prefixed].contains(patternType) { return "Invalid pattern type \(patternType.name)" }
        if [.unknown, .any].contains(operation) { return "Invalid operation \(operation.name)" }
        if ![.allow, .deny].contains(permission) { return "Invalid permission type \(permission.name)" }
        if resourceName.isEmpty { return "Resource name must not be empty" }
        if resourceType == .cluster, resourceName != "kafka-cluster" {
            return "The only valid name for the CLUSTER resource is kafka-cluster"
        }
        guard let colon = principal.firstIndex(of: ":"), colon != principal.startIndex,
              principal.index(after: colon) != principal.endIndex else {
            return "Could not parse principal from `\(principal)` (no colon is present separating the principal type from the principal name)"
        }
        if host.isEmpty { return "Host must not be empty (use * for any host)" }
        return nil
    }

    /// The record key: every field, so equal bindings share one record.
    var recordKey: String {
        "\(resourceType.rawValue)/\(patternType.rawValue)/\(operation.rawValue)/\(permission.rawValue)/\(principal)/\(host)/\(resourceName)"
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    init?(record: ClusterRecord) {
        guard let data = record.value.data(using: .utf8), let decoded = try? JSONDecoder().decode(Self.self, from: data) else {
            return nil
        }
        self = decoded
    }
}

/// A DescribeAcls / DeleteAcls filter.
public struct AclFilter: Sendable {
    public var resourceType: AclResourceType
    public var resourceName: String?
    public var patternType: AclPatternType
    public var principal: String?
    public var host: String?
    public var operation: AclOperation
    public var permission: AclPermission

    public init(resourceType: AclResourceType = .any, resourceName: String? = nil, patternType: AclPatternType = .any,
                principal: String? = nil, host: String? = nil, operation: AclOperation = .any,
                permission: AclPermission = .any) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Why the filter cannot be used (UNKNOWN values), nil when it can.
    public var invalidReason: String? {
        if resourceType == .unknown || patternType == .unknown || operation == .unknown || permission == .unknown {
            return "The filter has an UNKNOWN field"
        }
        return nil
    }

    /// Kafka's filter semantics: ANY and nil match everything; MATCH matches the literal name, the
    /// wildcard `*` and every prefixed pattern the name starts with.
    public func matches(_ binding: AclBinding) -> Bool {
        if resourceType != .any && resourceType != binding.resourceType { return false }
        switch patternType {
        case .any:
            if let resourceName, resourceName != binding.resourceName { return false }
        case .match:
            guard let resourceName else { break }
            switch binding.patternType {
            case .literal: if binding.resourceName != resourceName && binding.resourceName != "*" { return false }
            case .prefixed: if !resourceName.hasPrefix(binding.resourceName) { return false }
            default: return false
            }
        default:
            if patternType != binding.patternType { return false }
            if let resourceName, resourceName != binding.resourceName { return false }
        }
        if let principal, principal != binding.principal { return false }
        if let host, host != binding.host { return false }
        if operation != .any && operation != binding.operation { return false }
        if permission != .any && permission != binding.permission { return false }
        return true
    }
}
