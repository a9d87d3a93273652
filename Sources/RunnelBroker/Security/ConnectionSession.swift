// ConnectionSession: one connection's security state — its listener's demands, its principal, its
// SASL exchange — shared by the pipeline's handlers and the routers.
import NIOConcurrencyHelpers
import NIOCore

/// The security state of one connection. Handlers on the connection's event loop and request handlers
/// on other threads read it; it is guarded by a lock.
public final class ConnectionSession: Sendable {
    private struct State {
        var principal: KafkaPrincipal = .anonymous
        var authenticated: Bool
        var sasl: SaslServer?
        var handshakeDone = false
        var rawTokens = false
        var closeAfterResponse = false
        /// When the SASL session ends (`connections.max.reauth.ms`, KIP-368); nil: it never does.
        var sessionExpiry: NIODeadline?
        /// The mechanism of the last completed exchange (a re-authentication must use it again).
        var mechanism: String?
        /// True while a re-authentication exchange runs on an authenticated connection.
        var reauthenticating = false
    }

    /// What the listener the connection arrived on demands.
    public let security: ListenerSecurity
    private let state: NIOLockedValueBox<State>

    /// A session for a connection accepted on a listener with `security`.
    public init(security: ListenerSecurity = .plaintext) {
        self.security = security
        state = NIOLockedValueBox(State(authenticated: !security.securityProtocol.usesSASL))
    }

    /// Who the connection acts as (`User:ANONYMOUS` until a certificate or SASL says otherwise).
    public var principal: KafkaPrincipal { state.withLockedValue { $0.principal } }

    /// False on a SASL listener until the exchange succeeded.
    public var isAuthenticated: Bool { state.withLockedValue { $0.authenticated } }

    /// True once a response asked for the connection to close after it was written (failed authentication).
    var closeAfterResponse: Bool { state.withLockedValue { $0.closeAfterResponse } }

    /// True after a SaslHandshake v0: the next frames are bare SASL tokens, not Kafka requests.
    var rawTokens: Bool { state.withLockedValue { $0.rawTokens } }

    /// Sets the principal from the TLS client certificate (before any SASL exchange).
    func setCertificatePrincipal(_ principal: KafkaPrincipal) {
        state.withLockedValue { $0.principal = principal }
    }

    /// Asks for the connection to close once the current response is written.
    func requestClose() { state.withLockedValue { $0.closeAfterResponse = true } }

    /// Records the mechanism a SaslHandshake chose; false if a handshake already happened — unless the
    /// connection is authenticated with a session that expires: then the handshake begins a
    /// re-authentication (KIP-368; not with v0's bare tokens).
    func beginSasl(_ server: SaslServer, rawTokens: Bool) -> Bool {
        state.withLockedValue { state in
            if state.authenticated && state.handshakeDone {
                guard state.sessionExpiry != nil, !rawTokens, state.sasl == nil else { return false }
                state.reauthenticating = true
                state.sasl = server
                return true
            }
            guard !state.handshakeDone else { return false }
            state.handshakeDone = true
            state.sasl = server
            state.rawTokens = rawTokens
            return true
        }
    }

    /// True while a SaslAuthenticate may be served: an exchange is under way, or none has been begun yet
    /// on an unauthenticated connection.
    var acceptsSaslAuthenticate: Bool {
        state.withLockedValue { !$0.authenticated || $0.reauthenticating }
    }

    /// True when the connection authenticated and its SASL session has expired (`connections.max.reauth.ms`).
    func sessionExpired(now: NIODeadline = .now()) -> Bool {
        state.withLockedValue { state in
            guard state.authenticated, let expiry = state.sessionExpiry else { return false }
            return now >= expiry && !state.reauthenticating
        }
    }

    /// Feeds a client token to the exchange; nil when no handshake chose a mechanism. A completed
    /// exchange authenticates the connection as `User:<name>` for `sessionLifetimeMs` (0: no end). A
    /// re-authentication must keep the mechanism and the principal (Kafka's rules), or it fails.
    func evaluate(_ token: [UInt8], sessionLifetimeMs: Int64 = 0) -> (mechanism: String, step: SaslStep)? {
        state.withLockedValue { state in
            guard var server = state.sasl else { return nil }
            var step = server.evaluate(token)
            state.sasl = server
            if state.reauthenticating, server.mechanism != state.mechanism {
                step = .failed(reason: "re-authentication with another mechanism",
                               message: "SASL mechanism \(server.mechanism) requested by client does not match the "
                                   + "\(state.mechanism ?? "?") mechanism used for the original authentication")
            } else if state.reauthenticating, case .complete(let user, _) = step, user != state.principal.name {
                step = .failed(reason: "re-authentication as another principal",
                               message: "Cannot change principals during re-authentication from \(state.principal): User:\(user)")
            }
            switch step {
            case .challenge: break
            case .complete(let user, _):
                state.principal = KafkaPrincipal(name: user)
                state.authenticated = true
                state.rawTokens = false
                state.sasl = nil
                state.mechanism = server.mechanism
                state.reauthenticating = false
                state.sessionExpiry = sessionLifetimeMs > 0 ? .now() + .milliseconds(sessionLifetimeMs) : nil
            case .failed:
                state.sasl = nil
                state.closeAfterResponse = true
            }
            return (server.mechanism, step)
        }
    }
}
