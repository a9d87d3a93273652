// Scram: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them — the key
// derivation, the credential Kafka stores (salt, iterations, stored key, server key), the message
// attributes, and the client side of the exchange. The broker's server side builds on these.
import CLibCrypto
import Foundation

/// Why a SCRAM key derivation failed.
public enum ScramError: Error, Equatable, CustomStringConvertible {
    /// PBKDF2 needs 1 to 2^31-1 iterations.
    case invalidIterations(Int)
    /// libcrypto refused the operation.
    case cryptoFailure(String)

    public var description: String {
        switch self {
        case .invalidIterations(let n): "SCRAM iterations \(n) out of range (1...\(Int32.max))"
        case .cryptoFailure(let what): "libcrypto failed to compute \(what)"
        }
    }
}

/// A SCRAM mechanism Kafka supports.
public enum ScramMechanism: String, Sendable, CaseIterable, Codable {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    /// The mechanism type number of DescribeUserScramCredentials / AlterUserScramCredentials.
    public var typeCode: Int8 { self == .sha256 ? 1 : 2 }

    /// The mechanism for a type number.
    public init?(typeCode: Int8) {
        switch typeCode {
        case 1: self = .sha256
        case 2: self = .sha512
        default: return nil
        }
    }

    /// The fewest iterations Kafka accepts (4096).
    public static let minIterations = 4096
    /// The most iterations Kafka accepts (16384).
    public static let maxIterations = 16384

    /// This mechanism's digest in libcrypto.
    private var digest: OpaquePointer? { self == .sha256 ? EVP_sha256() : EVP_sha512() }
    /// The digest's output size in bytes.
    private var digestSize: Int { self == .sha256 ? 32 : 64 }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with this mechanism's HMAC.
    public func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        guard iterations > 0, iterations <= Int(Int32.max) else { throw ScramError.invalidIterations(iterations) }
        let passwordLength = password.utf8.count
        var key = [UInt8](repeating: 0, count: digestSize)
        let ok = password.withCString { pw in
            salt.withUnsafeBufferPointer { s in
                PKCS5_PBKDF2_HMAC(pw, Int32(passwordLength), s.baseAddress, Int32(s.count), Int32(iterations),
                                  digest, Int32(key.count), &key)
            }
        }
        guard ok == 1 else { throw ScramError.cryptoFailure("PBKDF2") }
        return key
    }

    /// HMAC(key, message); empty if libcrypto fails (the server refuses an empty signature).
    public func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestSize)
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                _ = HMAC(digest, k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// H(data); empty if libcrypto fails (never equal to a stored key).
    public func hash(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestSize)
        var length: UInt32 = 0
        data.withUnsafeBufferPointer { d in
            _ = EVP_Digest(d.baseAddress, d.count, &out, &length, digest, nil)
        }
        return Array(out.prefix(Int(length)))
    }
}

/// What Kafka stores for a SCRAM user: never the password.
public struct ScramCredential: Sendable, Equatable, Codable {
    /// The random salt.
    public var salt: [UInt8]
    /// H(ClientKey).
    public var storedKey: [UInt8]
    /// HMAC(SaltedPassword, "Server Key").
    public var serverKey: [UInt8]
    /// PBKDF2 iterations.
    public var iterations: Int

    /// Creates a credential from its parts.
    public init(salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8], iterations: Int) {
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
        self.iterations = iterations
    }

    /// Derives the credential of `password` (a random 32-byte salt unless one is given).
    public init(mechanism: ScramMechanism, password: String, salt: [UInt8]? = nil, iterations: Int) throws {
        let salt = salt ?? ScramMessages.randomBytes(32)
        try self.init(mechanism: mechanism, saltedPassword: mechanism.saltedPassword(password, salt: salt, iterations: iterations),
                      salt: salt, iterations: iterations)
    }

    /// Derives the credential from a salted password (AlterUserScramCredentials sends that).
    public init(mechanism: ScramMechanism, saltedPassword: [UInt8], salt: [UInt8], iterations: Int) {
        let clientKey = mechanism.hmac(key: saltedPassword, Array("Client Key".utf8))
        self.init(salt: salt, storedKey: mechanism.hash(clientKey),
                  serverKey: mechanism.hmac(key: saltedPassword, Array("Server Key".utf8)), iterations: iterations)
    }
}

/// Helpers for SCRAM messages: attribute lists (`n=user,r=nonce`), user name escaping, nonces.
public enum ScramMessages {
    /// Random bytes from the system generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// A printable nonce (base64 has no ',').
    public static func nonce() -> String { Data(randomBytes(24)).base64EncodedString() }

    /// Parses `a=1,b=2` into ordered pairs; nil when an attribute is malformed.
    public static func attributes(_ text: Substring) -> [(Character, String)]? {
        var result: [(Character, String)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, key.isLetter, part.dropFirst().first == "=" else { return nil }
            result.append((key, String(part.dropFirst(2))))
        }
        return result
    }

    /// RFC 5802 saslname decoding (`=2C` → `,`, `=3D` → `=`); nil on a bad escape.
    public static func decodeName(_ name: String) -> String? {
        var out = ""
        var rest = Substring(name)
        while let c = rest.first {
            if c == "=" {
                if rest.hasPrefix("=2C") { out.append(","); rest = rest.dropFirst(3) }
                else if rest.hasPrefix("=3D") { out.append("="); rest = rest.dropFirst(3) }
                else { return nil }
            } else {
                out.append(c)
                rest = rest.dropFirst()
            }
        }
        return out
    }

    /// RFC 5802 saslname encoding.
    public static func encodeName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    /// XOR of two equal-length byte arrays.
    public static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { zip(a, b).map { $0 ^ $1 } }

    /// Bytes from base64 text, nil when malformed.
    public static func base64(_ text: String) -> [UInt8]? { Data(base64Encoded: text).map { Array($0) } }

    /// Base64 text of bytes.
    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Constant-time comparison.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// The client side of a SCRAM exchange: `firstMessage()`, then `finalMessage(serverFirst:)`, then
/// `verify(serverFinal:)`.
public struct ScramClient: Sendable {
    /// Why the server's messages are not acceptable.
    public enum Failure: Error, CustomStringConvertible {
        case malformedServerMessage(String)
        case serverError(String)
        case badServerSignature
        public var description: String {
            switch self {
            case .malformedServerMessage(let text): "malformed SCRAM server message: \(text)"
            case .serverError(let text): "SCRAM server error: \(text)"
            case .badServerSignature: "the SCRAM server signature does not match (not the server holding the credential)"
            }
        }
    }

    let mechanism: ScramMechanism
    let username: String
    let password: String
    let clientNonce: String
    private var authMessage: [UInt8] = []
    private var saltedPassword: [UInt8] = []

    /// Starts an exchange.
    public init(mechanism: ScramMechanism, username: String, password: String, nonce: String = ScramMessages.nonce()) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.clientNonce = nonce
    }

    private var clientFirstBare: String { "n=\(ScramMessages.encodeName(username)),r=\(clientNonce)" }

    /// client-first-message.
    public func firstMessage() -> [UInt8] { Array("n,,\(clientFirstBare)".utf8) }

    /// client-final-message for the server's first message.
    public mutating func finalMessage(serverFirst: [UInt8]) throws -> [UInt8] {
        let text = String(decoding: serverFirst, as: UTF8.self)
        guard let attributes = ScramMessages.attributes(Substring(text)) else { throw Failure.malformedServerMessage(text) }
        if let error = attributes.first(where: { $0.0 == "e" }) { throw Failure.serverError(error.1) }
        guard attributes.count >= 3, attributes[0].0 == "r", attributes[1].0 == "s", attributes[2].0 == "i",
              attributes[0].1.hasPrefix(clientNonce), let salt = ScramMessages.base64(attributes[1].1),
              let iterations = Int(attributes[2].1), iterations > 0
        else { throw Failure.malformedServerMessage(text) }
        saltedPassword = try mechanism.saltedPassword(password, salt: salt, iterations: iterations)
        let withoutProof = "c=\(ScramMessages.base64(Array("n,,".utf8))),r=\(attributes[0].1)"
        authMessage = Array("\(clientFirstBare),\(text),\(withoutProof)".utf8)
        let clientKey = mechanism.hmac(key: saltedPassword, Array("Client Key".utf8))
        let signature = mechanism.hmac(key: mechanism.hash(clientKey), authMessage)
        let proof = ScramMessages.xor(clientKey, signature)
        return Array("\(withoutProof),p=\(ScramMessages.base64(proof))".utf8)
    }

    /// Checks the server-final-message's signature.
    public func verify(serverFinal: [UInt8]) throws {
        let text = String(decoding: serverFinal, as: UTF8.self)
        guard let attributes = ScramMessages.attributes(Substring(text)), let first = attributes.first else {
            throw Failure.malformedServerMessage(text)
        }
        if first.0 == "e" { throw Failure.serverError(first.1) }
        let serverKey = mechanism.hmac(key: saltedPassword, Array("Server Key".utf8))
        guard first.0 == "v", let signature = ScramMessages.base64(first.1),
              ScramMessages.constantTimeEqual(signature, mechanism.hmac(key: serverKey, authMessage))
        else { throw Failure.badServerSignature }
    }
}
