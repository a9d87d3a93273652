// ConsoleAuthentication: who is looking at the console. When the broker has SASL listeners or an
// authorizer (`console.authentication=auto`, the default) every console page asks for HTTP Basic
// credentials, checked against the broker's own SASL users — PLAIN JAAS users, and SCRAM credentials
// (the password's salted form derived with the stored salt and iterations, its stored key compared) —
// and the pages show only what that principal's ACLs let it see (`Console.may`).
import Foundation
import Logging
import NIOConcurrencyHelpers
import RunnelClient

/// The principal a console request acts as, the address it came from (ACLs may name hosts), and the
/// ACLs as they were when the request arrived (the page decides from them without the authorizer's lock).
struct ConsoleViewer: Sendable {
    var principal: KafkaPrincipal
    var host: String
    var acls: AclAuthorizer.Index
}

/// Checks HTTP Basic credentials against the broker's SASL users.
final class ConsoleAuthentication: Sendable {
    /// The realm of the `WWW-Authenticate` challenge.
    static let realm = "Runnel console"
    /// How long a verified user/password pair is trusted without deriving its SCRAM keys again.
    static let verifiedLifetime: Duration = .seconds(60)

    private let plainUsers: [String: String]
    private let scram: any ScramCredentialSource
    private let logger: Logger
    /// SHA-256 of `user:password` pairs verified recently, with when they were verified.
    private let verified = NIOLockedValueBox<[[UInt8]: ContinuousClock.Instant]>([:])

    init(plainUsers: [String: String], scram: any ScramCredentialSource, logger: Logger) {
        self.plainUsers = plainUsers
        self.scram = scram
        self.logger = logger
    }

    /// The principal of an `Authorization: Basic …` header; nil when it is missing, malformed, or names
    /// an unknown user or a wrong password.
    func principal(authorization: String?, client: String) -> KafkaPrincipal? {
        guard let (user, password) = Self.basicCredentials(authorization) else { return nil }
        if verify(user: user, password: password) { return KafkaPrincipal(name: user) }
        logger.warning("console authentication failed", metadata: ["user": "\(user)", "client": "\(client)"])
        return nil
    }

    /// User and password of a Basic `Authorization` header (RFC 7617).
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        let encoded = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        let user = String(text[..<colon])
        guard !user.isEmpty else { return nil }
        return (user, String(text[text.index(after: colon)...]))
    }

    private func verify(user: String, password: String) -> Bool {
        let key = ScramMechanism.sha256.hash(Array("\(user):\(password)".utf8))
        let now = ContinuousClock.now
        let recent = verified.withLockedValue { cache in
            cache[key].map { now - $0 < Self.verifiedLifetime } ?? false
        }
        if recent { return true }
        guard checkPlain(user: user, password: password) || checkScram(user: user, password: password) else {
            verified.withLockedValue { $0[key] = nil }
            return false
        }
        verified.withLockedValue { cache in
            if cache.count > 1024 { cache.removeAll() }  // bounded: a flood of distinct pairs starts over
            cache[key] = now
        }
        return true
    }

    private func checkPlain(user: String, password: String) -> Bool {
        guard let expected = plainUsers[user] else { return false }
        return ScramMessages.constantTimeEqual(Array(expected.utf8), Array(password.utf8))
    }

    /// Derives the password's SCRAM credential with the stored salt and iterations; the stored keys
    /// must be equal.
    private func checkScram(user: String, password: String) -> Bool {
        for mechanism in ScramMechanism.allCases {
            guard let stored = scram.scramCredential(user: user, mechanism: mechanism),
                  let derived = try? ScramCredential(mechanism: mechanism, password: password, salt: stored.salt,
                                                     iterations: stored.iterations)
            else { continue }
            if ScramMessages.constantTimeEqual(derived.storedKey, stored.storedKey) { return true }
        }
        return false
    }
}

extension Console {
    /// Whether the viewer may do `operation` on the resource (always, when the console is open to all).
    func may(_ operation: AclOperation, _ type: AclResourceType, _ name: String) -> Bool {
        guard let viewer else { return true }
        return core.access.authorizer.authorize(viewer.principal, host: viewer.host, operation, type, name, in: viewer.acls)
    }

    /// Whether the viewer may see `topic` at all (DESCRIBE).
    func mayDescribe(topic: String) -> Bool { may(.describe, .topic, topic) }

    /// The answer to a request without valid credentials (the HTTP server adds the Basic challenge).
    static func unauthorized() -> ConsoleResponse {
        ConsoleResponse(status: 401, body: "authentication required: sign in with a SASL user of this broker\n",
                        contentType: "text/plain; charset=utf-8")
    }

    /// The page of a request the viewer's ACLs refuse.
    func forbidden(_ title: String, _ message: String) -> ConsoleResponse {
        problem(403, title, message)
    }
}

extension Broker {
    /// The console's authentication from `console.authentication`: `basic` always, `none` never,
    /// `auto` (default) when some listener uses SASL or an authorizer is configured.
    func consoleAuthentication() -> ConsoleAuthentication? {
        let mode = config["console.authentication"]?.stringValue ?? "auto"
        let saslListeners = config.listeners.map(\.name).filter { config.securityProtocol(of: $0).usesSASL }
        let authorizer = !(config["authorizer.class.name"]?.stringValue ?? "").isEmpty
        guard mode == "basic" || (mode == "auto" && (!saslListeners.isEmpty || authorizer)) else { return nil }
        var plainUsers: [String: String] = [:]
        for listener in saslListeners {
            guard let jaas = config.jaasConfig(listener: listener, mechanism: "PLAIN"),
                  let users = try? JaasConfig(parsing: jaas).plainUsers else { continue }
            plainUsers.merge(users) { first, _ in first }
        }
        return ConsoleAuthentication(plainUsers: plainUsers, scram: scramCredentials, logger: logger)
    }
}
