// AclAuthorizer: Kafka's StandardAuthorizer semantics over the ACLs in the metadata store — super
// users, deny wins, literal / wildcard / prefixed patterns, implied DESCRIBE and DESCRIBE_CONFIGS,
// `allow.everyone.if.no.acl.found` — with denials in the log.
import Logging
import NIOConcurrencyHelpers
import RunnelCluster

/// Decides whether a principal may perform an operation on a resource.
public final class AclAuthorizer: Sendable {
    /// The ACLs, indexed so a check costs a few hash lookups and one walk over the resource name's
    /// bytes, however many ACLs are loaded (10,000 prefixed ACLs scanned with `hasPrefix` cost about
    /// a third of the broker's produce CPU).
    struct Index: Sendable {
        var literal: [AclResourceType: [String: [AclBinding]]] = [:]
        var prefixed: [AclResourceType: PrefixTrie] = [:]
        var count = 0

        init(_ bindings: [AclBinding] = []) {
            for binding in bindings {
                count += 1
                if binding.patternType == .prefixed {
                    prefixed[binding.resourceType, default: PrefixTrie()].insert(binding)
                } else {
                    literal[binding.resourceType, default: [:]][binding.resourceName, default: []].append(binding)
                }
            }
        }

        /// Calls `body` with every ACL whose pattern matches `type`/`name` (literal, wildcard, prefixed)
        /// until it returns false.
        func forEachMatching(_ type: AclResourceType, _ name: String, _ body: (AclBinding) -> Bool) {
            if let byName = literal[type] {
                for binding in byName[name] ?? [] where !body(binding) { return }
                if name != "*" { for binding in byName["*"] ?? [] where !body(binding) { return } }
            }
            prefixed[type]?.forEachPrefix(of: name, body)
        }
    }

    /// Prefixed ACLs in a trie over their names' UTF-8 bytes: the ACLs whose prefix a name starts
    /// with lie on the path that name's bytes walk (byte-wise, as Java's `startsWith` on whole characters).
    struct PrefixTrie: Sendable {
        private struct Node: Sendable {
            var children: [UInt8: Int32] = [:]
            var bindings: [AclBinding] = []
        }
        private var nodes = [Node()]
        private(set) var all: [AclBinding] = []

        mutating func insert(_ binding: AclBinding) {
            var at = 0
            for byte in binding.resourceName.utf8 {
                if let next = nodes[at].children[byte] {
                    at = Int(next)
                } else {
                    nodes.append(Node())
                    nodes[at].children[byte] = Int32(nodes.count - 1)
                    at = nodes.count - 1
                }
            }
            nodes[at].bindings.append(binding)
            all.append(binding)
        }

        func forEachPrefix(of name: String, _ body: (AclBinding) -> Bool) {
            var at = 0
            for binding in nodes[0].bindings where !body(binding) { return }
            for byte in name.utf8 {
                guard let next = nodes[at].children[byte] else { return }
                at = Int(next)
                for binding in nodes[at].bindings where !body(binding) { return }
            }
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
            index.literal.values.flatMap { $0.values.flatMap { $0 } } + index.prefixed.values.flatMap(\.all)
        }
    }

    /// Reloads the ACLs from an image.
    func load(from image: MetadataImage) {
        load(image.records(.acl).values.compactMap(AclBinding.init(record:)))
    }

    /// Replaces the loaded ACLs.
    func load(_ bindings: [AclBinding]) {
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
        var found = false, allowed = false, denied = false
        index.forEachMatching(type, name) { acl in
            found = true
            guard acl.principal == principalText || acl.principal == "User:*" else { return true }
            guard acl.host == "*" || acl.host == host else { return true }
            switch acl.permission {
            case .deny where acl.operation == .all || acl.operation == operation:
                denied = true
                return false
            case .allow where Self.allows(acl.operation, operation):
                allowed = true
            default:
                break
            }
            return true
        }
        if denied { return false }
        return found ? allowed : allowEveryoneIfNoAclFound
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
