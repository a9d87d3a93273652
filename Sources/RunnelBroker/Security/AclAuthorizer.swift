// AclAuthorizer: Kafka's StandardAuthorizer semantics over the ACLs in the metadata store — super
// users, deny wins, literal / wildcard / prefixed patterns, implied DESCRIBE and DESCRIBE_CONFIGS,
// `allow.everyone.if.no.acl.found` — with denials in the log.
import Logging
import NIOConcurrencyHelpers
import RunnelCluster

/// Decides whether a principal may perform an operation on a resource.
public final class AclAuthorizer: Sendable {
    /// The ACLs of one resource type, indexed for lookups.
    struct Index: Sendable {
        var literal: [AclResourceType: [String: [AclBinding]]] = [:]
        var prefixed: [AclResourceType: [AclBinding]] = [:]
        var count = 0

        init(_ bindings: [AclBinding] = []) {
            for binding in bindings {
                count += 1
                if binding.patternType == .prefixed {
                    prefixed[binding.resourceType, default: []].append(binding)
                } else {
                    literal[binding.resourceType, default: [:]][binding.resourceName, default: []].append(binding)
                }
            }
        }

        func matching(_ type: AclResourceType, _ name: String) -> [AclBinding] {
            var found = literal[type]?[name] ?? []
            if name != "*" { found += literal[type]?["*"] ?? [] }
            for binding in prefixed[type] ?? [] where name.hasPrefix(binding.resourceName) { found.append(binding) }
            return found
        }
    }

    /// True when `authorizer.class.name` names an authorizer: requests are checked.
    public let enabled: Bool
    let superUsers: Set<String>
    let allowEveryoneIfNoAclFound: Bool
    private let index = NIOLockedValueBox(Index())
    private let logger: Logger

    /// The Kafka class names accepted for `authorizer.class.name`.
    public static let acceptedClassNames: Set<String> = [
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer",
    ]

    init(enabled: Bool, superUsers: Set<String>, allowEveryoneIfNoAclFound: Bool, logger: Logger) {
        self.enabled = enabled
        self.superUsers = superUsers
        self.allowEveryoneIfNoAclFound = allowEveryoneIfNoAclFound
        self.logger = logger
    }

    /// An authorizer that allows everything (no `authorizer.class.name`).
    static let disabled = AclAuthorizer(enabled: false, superUsers: [], allowEveryoneIfNoAclFound: true,
                                        logger: Logger(label: "runnel.authorizer"))

    /// From `authorizer.class.name`, `super.users` and `allow.everyone.if.no.acl.found`.
    convenience init(_ config: BrokerConfig, logger: Logger) {
        let className = config["authorizer.class.name"]?.stringValue ?? ""
        let superUsers = (config["super.users"]?.stringValue ?? "").split(separator: ";")
            .map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        self.init(enabled: !className.isEmpty, superUsers: Set(superUsers),
                  allowEveryoneIfNoAclFound: config["allow.everyone.if.no.acl.found"]?.boolValue ?? false, logger: logger)
    }

    /// Every ACL currently loaded.
    var bindings: [AclBinding] {
        index.withLockedValue { index in
            index.literal.values.flatMap { $0.values.flatMap { $0 } } + index.prefixed.values.flatMap { $0 }
        }
    }

    /// Reloads the ACLs from an image.
    func load(from image: MetadataImage) {
        let bindings = image.records(.acl).values.compactMap(AclBinding.init(record:))
        let fresh = Index(bindings)
        index.withLockedValue { $0 = fresh }
    }

    /// Follows the store: reloads on every ACL change (runs until cancelled).
    func follow(_ store: any MetadataStore) async {
        await store.followRecords(.acl) { load(from: $0) }
    }

    /// Whether `principal` from `host` may perform `operation` on `type`/`name` (Kafka's rules).
    public func authorize(_ principal: KafkaPrincipal, host: String, _ operation: AclOperation,
                          _ type: AclResourceType, _ name: String) -> Bool {
        guard enabled else { return true }
        return authorize(principal, host: host, operation, type, name, in: currentIndex)
    }

    /// The ACLs loaded now; decisions made from it (`authorize(_:host:_:_:_:in:)`) take no lock, as
    /// the console's pages on their low-priority thread must not (decision 0015).
    var currentIndex: Index { index.withLockedValue { $0 } }

    /// `authorize` against `index` (a `currentIndex` read before).
    func authorize(_ principal: KafkaPrincipal, host: String, _ operation: AclOperation,
                   _ type: AclResourceType, _ name: String, in index: Index) -> Bool {
        guard enabled else { return true }
        let principalText = principal.description
        if superUsers.contains(principalText) { return true }
        let candidates = index.matching(type, name)
        if candidates.isEmpty { return allowEveryoneIfNoAclFound }
        var allowed = false
        for acl in candidates {
            guard acl.principal == principalText || acl.principal == "User:*" else { continue }
            guard acl.host == "*" || acl.host == host else { continue }
            switch acl.permission {
            case .deny where acl.operation == .all || acl.operation == operation:
                return false
            case .allow where Self.allows(acl.operation, operation):
                allowed = true
            default:
                continue
            }
        }
        return allowed
    }

    /// ALLOW of `granted` permits `wanted`: equal, ALL, or an implied DESCRIBE / DESCRIBE_CONFIGS.
    static func allows(_ granted: AclOperation, _ wanted: AclOperation) -> Bool {
        if granted == .all || granted == wanted { return true }
        if wanted == .describe { return [.read, .write, .delete, .alter].contains(granted) }
        if wanted == .describeConfigs { return granted == .alterConfigs }
        return false
    }

    /// `authorize`, logging a denial with principal, client address, resource and operation.
    func check(_ context: RequestContext, _ operation: AclOperation, _ type: AclResourceType, _ name: String,
               logDenial: Bool = true) -> Bool {
        let host = context.clientAddress?.ipAddress ?? ""
        let principal = context.session.principal
        let allowed = authorize(principal, host: host, operation, type, name)
        if !allowed && logDenial {
            SecurityAuditMetrics.denied(resourceType: type.name, operation: operation.name)
            context.logger.info("authorization denied", metadata: [
                "principal": "\(principal)", "client": "\(host)", "operation": "\(operation.name)",
                "resource": "\(type.name):\(name)",
            ])
        }
        return allowed
    }
}
