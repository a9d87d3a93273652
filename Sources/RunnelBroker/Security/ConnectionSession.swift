// ConnectionSession: one connection's security state — its listener's demands, its principal, its
// SASL exchange — shared by the pipeline's handlers and the routers.
import NIOConcurrencyHelpers

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

    /// Records the mechanism a SaslHandshake chose; false if a handshake already happened.
    func beginSasl(_ server: SaslServer, rawTokens: Bool) -> Bool {
        state.withLockedValue { state in
            guard !state.handshakeDone else { return false }
            state.handshakeDone = true
            state.sasl = server
            state.rawTokens = rawTokens
            return true
        }
    }

    /// Feeds a client token to the exchange; nil when no handshake chose a mechanism. A completed
    /// exchange authenticates the connection as `User:<name>`.
    func evaluate(_ token: [UInt8]) -> (mechanism: String, step: SaslStep)? {
        state.withLockedValue { state in
            guard var server = state.sasl else { return nil }
            let step = server.evaluate(token)
            state.sasl = server
            switch step {
            case .challenge: break
            case .complete(let user, _):
                state.principal = KafkaPrincipal(name: user)
                state.authenticated = true
                state.rawTokens = false
                state.sasl = nil
            case .failed:
                state.sasl = nil
                state.closeAfterResponse = true
            }
            return (server.mechanism, step)
        }
    }
}
