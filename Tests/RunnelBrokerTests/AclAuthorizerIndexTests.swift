// The authorizer's ACL index: literal, wildcard and prefixed patterns found by lookups and one walk
// over the name's bytes give the same decisions as Kafka's rules, with many ACLs loaded.
import Logging
import Testing
@testable import RunnelBroker

@Suite struct AclAuthorizerIndexTests {
    static func authorizer(_ bindings: [AclBinding], allowIfNone: Bool = false) -> AclAuthorizer {
        let authorizer = AclAuthorizer(enabled: true, superUsers: ["User:root"], allowEveryoneIfNoAclFound: allowIfNone,
                                       logger: Logger(label: "test"))
        authorizer.load(bindings)
        return authorizer
    }

    static func acl(_ name: String, _ pattern: AclPatternType = .literal, principal: String = "User:alice",
                    host: String = "*", _ operation: AclOperation = .write,
                    _ permission: AclPermission = .allow) -> AclBinding {
        AclBinding(resourceType: .topic, resourceName: name, patternType: pattern, principal: principal, host: host,
                   operation: operation, permission: permission)
    }

    let alice = KafkaPrincipal(name: "alice")

    @Test("a prefixed ACL matches names starting with it, at any depth among thousands of others")
    func prefixedAmongMany() {
        var bindings = (0..<5_000).map { Self.acl("team-\($0)-", .prefixed, principal: "User:other") }
        bindings += (0..<5_000).map { Self.acl("lit-\($0)", principal: "User:other") }
        bindings.append(Self.acl("orders.", .prefixed))
        let authorizer = Self.authorizer(bindings)
        #expect(authorizer.authorize(alice, host: "10.0.0.1", .write, .topic, "orders.eu"))
        #expect(authorizer.authorize(alice, host: "10.0.0.1", .write, .topic, "orders."))
        #expect(!authorizer.authorize(alice, host: "10.0.0.1", .write, .topic, "orders"))
        #expect(!authorizer.authorize(alice, host: "10.0.0.1", .write, .topic, "team-17-x"))
        // Other principals' ACLs on the name count as "an ACL found": no fallback to allow-everyone.
        let open = Self.authorizer(bindings, allowIfNone: true)
        #expect(!open.authorize(alice, host: "10.0.0.1", .write, .topic, "team-17-x"))
        #expect(open.authorize(alice, host: "10.0.0.1", .write, .topic, "unrelated"))
    }

    @Test("deny wins over allow from any pattern kind; host and wildcard principal honoured")
    func denyWins() {
        let authorizer = Self.authorizer([
            Self.acl("*", principal: "User:*"),
            Self.acl("pay", .prefixed, principal: "User:alice", host: "10.0.0.9", .all, .deny),
        ])
        #expect(authorizer.authorize(alice, host: "10.0.0.1", .write, .topic, "payments"))
        #expect(!authorizer.authorize(alice, host: "10.0.0.9", .write, .topic, "payments"))
        #expect(authorizer.authorize(alice, host: "10.0.0.9", .write, .topic, "orders"))
        #expect(authorizer.authorize(KafkaPrincipal(name: "root"), host: "10.0.0.9", .write, .topic, "payments"))
    }

    @Test("prefixes compare byte-wise on UTF-8, nested prefixes all apply, implied DESCRIBE")
    func nestedAndUnicode() {
        let authorizer = Self.authorizer([
            Self.acl("é", .prefixed, .read),
            Self.acl("éa", .prefixed, .alter, .deny),
        ])
        #expect(authorizer.authorize(alice, host: "h", .read, .topic, "été"))
        #expect(authorizer.authorize(alice, host: "h", .describe, .topic, "éb"))
        #expect(!authorizer.authorize(alice, host: "h", .alter, .topic, "éab"))
        #expect(!authorizer.authorize(alice, host: "h", .read, .topic, "e"))
        #expect(authorizer.bindings.count == 2)
    }
}
