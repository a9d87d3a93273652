// SaslRouter: SaslHandshake and SaslAuthenticate, and the gate that keeps a SASL listener's
// connections to ApiVersions and the SASL exchange until they authenticated.
import KafkaProtocol
import NIOCore

/// Serves the SASL APIs in front of the broker's router. On a SASL listener a connection that has not
/// authenticated may send ApiVersions, SaslHandshake and SaslAuthenticate only; anything else closes it
/// (as Kafka does). A failed exchange is answered with SASL_AUTHENTICATION_FAILED, logged with the
/// client's address, and the connection is closed after the response. On other listeners both SASL APIs
/// are answered with ILLEGAL_SASL_STATE; after authentication too, unless the listener sets
/// `connections.max.reauth.ms` (KIP-368): then SaslAuthenticate v1+ tells the client its session
/// lifetime, a new SaslHandshake + SaslAuthenticate re-authenticates the connection (same mechanism,
/// same principal), and the first other request after the session expired closes the connection.
final class SaslRouter: RequestRouter {
    /// The SASL API versions served.
    static let handshakeVersions: ClosedRange<Int16> = 0...1
    static let authenticateVersions: ClosedRange<Int16> = 0...2

    private let inner: any RequestRouter

    init(inner: any RequestRouter) {
        self.inner = inner
    }

    func route(_ frame: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        let session = context.session
        let apiKey = ApiKey(rawValue: frame.apiKey)
        let isSaslApi = apiKey == .saslHandshake || apiKey == .saslAuthenticate
        // Listeners without SASL take no lock here: everything but the SASL APIs goes straight through.
        if !session.security.securityProtocol.usesSASL && !isSaslApi {
            return inner.route(frame, context: context)
        }
        if session.rawTokens {
            return context.eventLoop.makeSucceededFuture(rawToken(frame, context: context))
        }
        if !isSaslApi && session.sessionExpired() {
            context.logger.info("closing connection: SASL session expired", metadata: [
                "principal": "\(session.principal)", "api_key": "\(frame.apiKey)",
                "client": "\(context.clientAddress.map { "\($0)" } ?? "?")", "listener": "\(context.listenerName)",
            ])
            return context.eventLoop.makeFailedFuture(SaslSessionError.expired(principal: session.principal))
        }
        if !isSaslApi && (session.isAuthenticated || apiKey == .apiVersions) {
            return inner.route(frame, context: context)
        }
        guard isSaslApi else {
            context.logger.warning("closing connection: request before SASL authentication", metadata: [
                "api_key": "\(frame.apiKey)", "client": "\(context.clientAddress.map { "\($0)" } ?? "?")",
                "listener": "\(context.listenerName)",
            ])
            return context.eventLoop.makeFailedFuture(RouterError.unsupportedApi(apiKey: frame.apiKey, version: frame.apiVersion))
        }
        let range = apiKey == .saslHandshake ? Self.handshakeVersions : Self.authenticateVersions
        var body = frame.buffer
        guard range.contains(frame.apiVersion),
              let header = try? RequestHeader(
                from: &body, headerVersion: RequestHeader.headerVersion(apiKey: frame.apiKey, apiVersion: frame.apiVersion))
        else {
            return context.eventLoop.makeFailedFuture(RouterError.unsupportedApi(apiKey: frame.apiKey, version: frame.apiVersion))
        }
        do {
            if apiKey == .saslHandshake {
                let request = try SaslHandshakeRequest(from: &body, version: header.apiVersion)
                return context.eventLoop.makeSucceededFuture(
                    try encode(handshake(request, version: header.apiVersion, context: context), header: header))
            }
            let request = try SaslAuthenticateRequest(from: &body, version: header.apiVersion)
            let response = authenticate(request, version: header.apiVersion, context: context)
            let payload = try encode(response, header: header)
            guard response.errorCode == ErrorCode.saslAuthenticationFailed.rawValue,
                  let delay = context.session.security.sasl?.failureDelay.recordFailure(
                    from: context.clientAddress?.ipAddress ?? "?"), delay > .zero
            else { return context.eventLoop.makeSucceededFuture(payload) }
            return context.eventLoop.scheduleTask(in: delay) { payload }.futureResult
        } catch {
            context.logger.warning("closing connection: malformed SASL request", metadata: ["error": "\(error)"])
            return context.eventLoop.makeFailedFuture(RouterError.malformedRequest(
                apiKey: frame.apiKey, version: frame.apiVersion, reason: "\(error)"))
        }
    }

    private func handshake(_ request: SaslHandshakeRequest, version: Int16, context: RequestContext) -> SaslHandshakeResponse {
        var response = SaslHandshakeResponse()
        let session = context.session
        guard let sasl = session.security.sasl else {
            response.errorCode = ErrorCode.illegalSaslState.rawValue
            return response
        }
        let reauthenticating = session.isAuthenticated
        if reauthenticating && (version == 0 || sasl.reauthenticationMs <= 0) {
            response.errorCode = ErrorCode.illegalSaslState.rawValue
            return response
        }
        response.mechanisms = sasl.enabledMechanisms
        guard let server = sasl.server(for: request.mechanism) else {
            SecurityAuditMetrics.authenticationFailed(mechanism: request.mechanism, listener: context.listenerName)
            context.logger.warning("authentication failed: unsupported SASL mechanism", metadata: [
                "mechanism": "\(request.mechanism)", "client": "\(context.clientAddress.map { "\($0)" } ?? "?")",
            ])
            response.errorCode = ErrorCode.unsupportedSaslMechanism.rawValue
            session.requestClose()
            return response
        }
        guard session.beginSasl(server, rawTokens: version == 0) else {
            response.errorCode = ErrorCode.illegalSaslState.rawValue
            session.requestClose()
            return response
        }
        response.errorCode = ErrorCode.none.rawValue
        return response
    }

    private func authenticate(_ request: SaslAuthenticateRequest, version: Int16,
                              context: RequestContext) -> SaslAuthenticateResponse {
        var response = SaslAuthenticateResponse()
        let session = context.session
        guard session.acceptsSaslAuthenticate, let sasl = session.security.sasl else {
            response.errorCode = ErrorCode.illegalSaslState.rawValue
            response.errorMessage = "SaslAuthenticate request received after successful authentication"
            return response
        }
        let token = request.authBytes.getBytes(at: request.authBytes.readerIndex, length: request.authBytes.readableBytes) ?? []
        let reauthentication = session.isAuthenticated
        guard let (mechanism, step) = session.evaluate(token, sessionLifetimeMs: sasl.reauthenticationMs) else {
            response.errorCode = ErrorCode.illegalSaslState.rawValue
            response.errorMessage = "SaslAuthenticate before SaslHandshake"
            session.requestClose()
            return response
        }
        switch step {
        case .challenge(let bytes):
            response.authBytes = ByteBuffer(bytes: bytes)
        case .complete(let user, let bytes):
            response.authBytes = ByteBuffer(bytes: bytes)
            if version >= 1 { response.sessionLifetimeMs = sasl.reauthenticationMs }
            logSuccess(user: user, mechanism: mechanism, context: context, reauthentication: reauthentication)
        case .failed(let reason, let message):
            response.errorCode = ErrorCode.saslAuthenticationFailed.rawValue
            response.errorMessage = message
            logFailure(reason: reason, mechanism: mechanism, context: context)
        }
        return response
    }

    /// A bare SASL token after a SaslHandshake v0: answered with a bare token; a failure closes the
    /// connection without an answer (Kafka's v0 behaviour).
    private func rawToken(_ frame: KafkaRequestFrame, context: RequestContext) -> ResponsePayload {
        let token = frame.buffer.getBytes(at: frame.buffer.readerIndex, length: frame.buffer.readableBytes) ?? []
        let lifetime = context.session.security.sasl?.reauthenticationMs ?? 0
        guard let (mechanism, step) = context.session.evaluate(token, sessionLifetimeMs: lifetime) else {
            context.session.requestClose()
            return .none
        }
        switch step {
        case .challenge(let bytes):
            return .buffer(ByteBuffer(bytes: bytes))
        case .complete(let user, let bytes):
            logSuccess(user: user, mechanism: mechanism, context: context)
            return .buffer(ByteBuffer(bytes: bytes))
        case .failed(let reason, _):
            logFailure(reason: reason, mechanism: mechanism, context: context)
            return .none
        }
    }

    private func logSuccess(user: String, mechanism: String, context: RequestContext, reauthentication: Bool = false) {
        SecurityAuditMetrics.authenticated(mechanism: mechanism, listener: context.listenerName)
        context.logger.info(reauthentication ? "re-authenticated" : "authenticated", metadata: [
            "principal": "User:\(user)", "mechanism": "\(mechanism)", "listener": "\(context.listenerName)",
            "client": "\(context.clientAddress.map { "\($0)" } ?? "?")",
        ])
    }

    private func logFailure(reason: String, mechanism: String, context: RequestContext) {
        SecurityAuditMetrics.authenticationFailed(mechanism: mechanism, listener: context.listenerName)
        context.logger.warning("authentication failed", metadata: [
            "reason": "\(reason)", "mechanism": "\(mechanism)", "listener": "\(context.listenerName)",
            "client": "\(context.clientAddress.map { "\($0)" } ?? "?")",
        ])
    }

    private func encode<Response: KafkaMessage>(_ response: Response, header: RequestHeader) throws -> ResponsePayload {
        var out = ByteBufferAllocator().buffer(capacity: 128)
        ResponseHeader(correlationId: header.correlationId).encode(
            to: &out, headerVersion: ResponseHeader.headerVersion(apiKey: header.apiKey, apiVersion: header.apiVersion))
        try response.encode(to: &out, version: header.apiVersion)
        return .buffer(out)
    }
}

/// Why a SASL connection is closed instead of answered.
enum SaslSessionError: Error, CustomStringConvertible {
    /// The session's `connections.max.reauth.ms` passed without a re-authentication (KIP-368).
    case expired(principal: KafkaPrincipal)

    var description: String {
        switch self {
        case .expired(let principal): "the SASL session of \(principal) expired (connections.max.reauth.ms)"
        }
    }
}
