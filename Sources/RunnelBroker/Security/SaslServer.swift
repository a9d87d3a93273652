// SaslServer: the broker's side of SASL PLAIN and SCRAM-SHA-256/512, one exchange per connection.
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RunnelClient

/// Where SCRAM credentials come from (the metadata store; tests may give a fixed set).
public protocol ScramCredentialSource: Sendable {
    /// The stored credential of `user` for `mechanism`, nil when the user has none.
    func scramCredential(user: String, mechanism: ScramMechanism) -> ScramCredential?
}

/// A fixed set of SCRAM credentials.
public struct StaticScramCredentials: ScramCredentialSource {
    /// Credentials by user, then mechanism.
    public var credentials: [String: [ScramMechanism: ScramCredential]]

    /// Creates the set.
    public init(_ credentials: [String: [ScramMechanism: ScramCredential]] = [:]) { self.credentials = credentials }

    public func scramCredential(user: String, mechanism: ScramMechanism) -> ScramCredential? {
        credentials[user]?[mechanism]
    }
}

/// A listener's SASL settings: the mechanisms it accepts and where each finds its users.
public struct SaslServerConfiguration: Sendable {
    /// `sasl.enabled.mechanisms`.
    public var enabledMechanisms: [String]
    /// PLAIN users and passwords (`user_NAME="password"` of the listener's PLAIN JAAS config).
    public var plainUsers: [String: String]
    /// SCRAM credentials.
    public var scramCredentials: any ScramCredentialSource
    /// How long a failed authentication waits before its answer (shared by every listener).
    public var failureDelay: FailedAuthenticationDelay
    /// `connections.max.reauth.ms`: a session's lifetime, after which the client must re-authenticate
    /// (KIP-368); 0: sessions never end.
    public var reauthenticationMs: Int64 = 0

    /// Creates a configuration.
    public init(enabledMechanisms: [String], plainUsers: [String: String], scramCredentials: any ScramCredentialSource,
                failureDelay: FailedAuthenticationDelay = FailedAuthenticationDelay(baseMs: 0)) {
        self.enabledMechanisms = enabledMechanisms
        self.plainUsers = plainUsers
        self.scramCredentials = scramCredentials
        self.failureDelay = failureDelay
    }

    /// A new exchange for `mechanism`, nil when the listener does not accept it.
    func server(for mechanism: String) -> SaslServer? {
        guard enabledMechanisms.contains(mechanism) else { return nil }
        if mechanism == "PLAIN" { return SaslServer(plain: plainUsers) }
        guard let scram = ScramMechanism(rawValue: mechanism) else { return nil }
        return SaslServer(scram: scram, credentials: scramCredentials)
    }
}

/// One step of an exchange.
enum SaslStep: Equatable {
    /// Send these bytes and wait for the client's next token.
    case challenge([UInt8])
    /// Authenticated as `user`; send these bytes (possibly empty) as the last response.
    case complete(user: String, response: [UInt8])
    /// Authentication failed: `reason` for the log, `message` for the client.
    case failed(reason: String, message: String)
}

/// The server side of one SASL exchange.
struct SaslServer: Sendable {
    private enum State: Sendable {
        case plain([String: String])
        case scramFirst(ScramMechanism, any ScramCredentialSource)
        case scramFinal(ScramMechanism, user: String, credential: ScramCredential, nonce: String, firstBare: String,
                        serverFirst: String, gs2Header: String)
        case done
    }

    private var state: State
    /// The mechanism's name.
    let mechanism: String

    init(plain users: [String: String]) {
        state = .plain(users)
        mechanism = "PLAIN"
    }

    init(scram: ScramMechanism, credentials: any ScramCredentialSource) {
        state = .scramFirst(scram, credentials)
        mechanism = scram.rawValue
    }

    /// Handles the client's next token.
    mutating func evaluate(_ token: [UInt8]) -> SaslStep {
        let current = state
        state = .done
        switch current {
        case .plain(let users): return Self.plain(token, users: users)
        case .scramFirst(let scram, let source): return scramFirst(token, scram: scram, source: source)
        case .scramFinal(let scram, let user, let credential, let nonce, let firstBare, let serverFirst, let gs2Header):
            return Self.scramFinal(token, scram: scram, user: user, credential: credential, nonce: nonce,
                                   firstBare: firstBare, serverFirst: serverFirst, gs2Header: gs2Header)
        case .done:
            return .failed(reason: "token after the exchange ended", message: "Unexpected SASL token")
        }
    }

    private static let invalidCredentials = "Authentication failed: Invalid username or password"

    /// PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`.
    private static func plain(_ token: [UInt8], users: [String: String]) -> SaslStep {
        let parts = token.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failed(reason: "malformed PLAIN token", message: "Invalid SASL/PLAIN response: expected 3 tokens, got \(parts.count)")
        }
        let authzid = String(decoding: parts[0], as: UTF8.self)
        let user = String(decoding: parts[1], as: UTF8.self)
        let password = Array(parts[2])
        guard !user.isEmpty else { return .failed(reason: "empty user name", message: "Authentication failed: username not specified") }
        guard !password.isEmpty else { return .failed(reason: "empty password", message: "Authentication failed: password not specified") }
        guard authzid.isEmpty || authzid == user else {
            return .failed(reason: "authorization id \(authzid) differs from user \(user)",
                           message: "Authentication failed: Client requested an authorization id that is different from username")
        }
        guard let expected = users[user],
              ScramMessages.constantTimeEqual(Array(expected.utf8), password)
        else { return .failed(reason: users[user] == nil ? "unknown user \(user)" : "wrong password for \(user)", message: invalidCredentials) }
        return .complete(user: user, response: [])
    }

    /// client-first-message: `gs2-header client-first-bare`; answers server-first-message.
    private mutating func scramFirst(_ token: [UInt8], scram: ScramMechanism, source: any ScramCredentialSource) -> SaslStep {
        let scramFailure = "Authentication failed during authentication due to invalid credentials with SASL mechanism \(scram.rawValue)"
        let text = String(decoding: token, as: UTF8.self)
        // gs2-header: "n,," or "n,a=authzid," (channel binding is not supported, as in Kafka).
        let fields = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0] == "n", fields[1].isEmpty || fields[1].hasPrefix("a=") else {
            return .failed(reason: "malformed SCRAM client-first message", message: "Invalid SCRAM client first message")
        }
        let firstBare = String(fields[2])
        guard let attributes = ScramMessages.attributes(fields[2]), attributes.count >= 2,
              attributes[0].0 == "n", attributes[1].0 == "r", !attributes[1].1.isEmpty,
              let user = ScramMessages.decodeName(attributes[0].1), !user.isEmpty
        else { return .failed(reason: "malformed SCRAM client-first message", message: "Invalid SCRAM client first message") }
        if fields[1].hasPrefix("a="), ScramMessages.decodeName(String(fields[1].dropFirst(2))) != user {
            return .failed(reason: "authorization id differs from user \(user)",
                           message: "Authentication failed: Client requested an authorization id that is different from username")
        }
        guard let credential = source.scramCredential(user: user, mechanism: scram) else {
            return .failed(reason: "unknown user \(user) for \(scram.rawValue)", message: scramFailure)
        }
        let nonce = attributes[1].1 + ScramMessages.nonce()
        let serverFirst = "r=\(nonce),s=\(ScramMessages.base64(credential.salt)),i=\(credential.iterations)"
        state = .scramFinal(scram, user: user, credential: credential, nonce: nonce, firstBare: firstBare,
                            serverFirst: serverFirst, gs2Header: String(fields[0]) + "," + String(fields[1]) + ",")
        return .challenge(Array(serverFirst.utf8))
    }

    /// client-final-message: `c=channel-binding,r=nonce,p=proof`; answers server-final-message.
    private static func scramFinal(_ token: [UInt8], scram: ScramMechanism, user: String, credential: ScramCredential,
                                   nonce: String, firstBare: String, serverFirst: String, gs2Header: String) -> SaslStep {
        let scramFailure = "Authentication failed during authentication due to invalid credentials with SASL mechanism \(scram.rawValue)"
        let text = String(decoding: token, as: UTF8.self)
        guard let proofRange = text.range(of: ",p=", options: .backwards),
              let attributes = ScramMessages.attributes(Substring(text)), attributes.count >= 3,
              attributes[0].0 == "c", attributes[1].0 == "r", let proofAttribute = attributes.last, proofAttribute.0 == "p",
              let proof = ScramMessages.base64(proofAttribute.1)
        else { return .failed(reason: "malformed SCRAM client-final message from \(user)", message: "Invalid SCRAM client final message") }
        guard attributes[0].1 == ScramMessages.base64(Array(gs2Header.utf8)) else {
            return .failed(reason: "SCRAM channel binding does not match the gs2 header (\(user))", message: scramFailure)
        }
        // Kafka checks that the client's nonce ends with the server's (librdkafka before 2.x repeats the
        // client nonce in front of it); the proof then covers exactly what the client sent.
        guard attributes[1].1.hasSuffix(nonce) else {
            return .failed(reason: "SCRAM nonce does not match (\(user))", message: "Invalid client nonce in the final client message.")
        }
        let withoutProof = String(text[..<proofRange.lowerBound])
        let authMessage = Array("\(firstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = scram.hmac(key: credential.storedKey, authMessage)
        // An empty signature means libcrypto failed (ScramMechanism.hmac): never compare against it.
        guard !signature.isEmpty, proof.count == signature.count else {
            return .failed(reason: "SCRAM proof has the wrong length (\(user))", message: scramFailure)
        }
        let clientKey = ScramMessages.xor(proof, signature)
        guard !credential.storedKey.isEmpty, ScramMessages.constantTimeEqual(scram.hash(clientKey), credential.storedKey) else {
            return .failed(reason: "wrong SCRAM proof for \(user)", message: scramFailure)
        }
        let serverSignature = scram.hmac(key: credential.serverKey, authMessage)
        return .complete(user: user, response: Array("v=\(ScramMessages.base64(serverSignature))".utf8))
    }
}

/// `connection.failed.authentication.delay.ms`, growing per client address: the n-th failure from one
/// address within a minute waits base × 2^(n-1), at most 5 s, before its answer (and the close).
public final class FailedAuthenticationDelay: Sendable {
    private struct Entry {
        var failures: Int
        var last: NIODeadline
    }

    let baseMs: Int64
    static let capMs: Int64 = 5000
    static let window = TimeAmount.seconds(60)
    private let entries = NIOLockedValueBox([String: Entry]())

    /// A tracker with `baseMs` for a first failure (0 disables the delay).
    public init(baseMs: Int64) { self.baseMs = baseMs }

    /// Records a failure from `address` and returns how long its answer waits.
    func recordFailure(from address: String, now: NIODeadline = .now()) -> TimeAmount {
        guard baseMs > 0 else { return .zero }
        let failures = entries.withLockedValue { entries -> Int in
            if entries.count > 10_000 { entries = entries.filter { now - $0.value.last < Self.window } }
            var entry = entries[address].flatMap { now - $0.last < Self.window ? $0 : nil } ?? Entry(failures: 0, last: now)
            entry.failures += 1
            entry.last = now
            entries[address] = entry
            return entry.failures
        }
        let shift = Int64(min(failures - 1, 20))
        return .milliseconds(min(baseMs << shift, Self.capMs))
    }
}
