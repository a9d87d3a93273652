// ListenerSecurity: what one listener demands of its connections (TLS, SASL), resolved from the
// configuration once at startup, and the principal a connection acts as.
import NIOSSL

/// A listener's security protocol, as `listener.security.protocol.map` names it.
public enum SecurityProtocol: String, Sendable, CaseIterable {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSsl = "SASL_SSL"

    /// True when connections are encrypted with TLS.
    public var usesTLS: Bool { self == .ssl || self == .saslSsl }
    /// True when clients must authenticate with SASL before anything but ApiVersions.
    public var usesSASL: Bool { self == .saslPlaintext || self == .saslSsl }
}

/// Who a connection acts as: Kafka's `KafkaPrincipal` (`User:alice`, `User:ANONYMOUS`).
public struct KafkaPrincipal: Sendable, Hashable, CustomStringConvertible {
    /// The principal type; always `User` here.
    public var type: String
    /// The name (a SASL user name, a mapped certificate subject, or `ANONYMOUS`).
    public var name: String

    /// Creates a principal.
    public init(type: String = "User", name: String) {
        self.type = type
        self.name = name
    }

    /// The principal of an unauthenticated connection (PLAINTEXT, or SSL without a client certificate).
    public static let anonymous = KafkaPrincipal(name: "ANONYMOUS")

    public var description: String { "\(type):\(name)" }
}

/// The security of one listener: its protocol, its TLS context (SSL, SASL_SSL) and its SASL
/// configuration (SASL_PLAINTEXT, SASL_SSL).
public struct ListenerSecurity: Sendable {
    /// The listener's security protocol.
    public var securityProtocol: SecurityProtocol
    /// The server TLS context, reloaded when its files change (nil without TLS).
    public var tls: TLSContextReloader?
    /// Maps client certificate subjects to principal names.
    public var principalMapper: SslPrincipalMapper
    /// The SASL mechanisms and their credentials (nil without SASL).
    public var sasl: SaslServerConfiguration?

    /// A listener with no security (PLAINTEXT).
    public static let plaintext = ListenerSecurity(securityProtocol: .plaintext, tls: nil,
                                                   principalMapper: SslPrincipalMapper.defaultMapper, sasl: nil)

    /// Creates a listener's security.
    public init(securityProtocol: SecurityProtocol, tls: TLSContextReloader?, principalMapper: SslPrincipalMapper,
                sasl: SaslServerConfiguration?) {
        self.securityProtocol = securityProtocol
        self.tls = tls
        self.principalMapper = principalMapper
        self.sasl = sasl
    }
}
