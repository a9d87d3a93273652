// ClientSecurity: how a RunnelClient connection protects itself — TLS and SASL (PLAIN, SCRAM) — and
// the SASL exchange run right after ApiVersions.
import KafkaProtocol
import NIOCore
import NIOSSL

/// The security of client connections (`security.protocol`, `sasl.*`, `ssl.*` client properties).
public struct ClientSecurity: Sendable {
    /// SASL credentials.
    public struct Sasl: Sendable {
        /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        public var mechanism: String
        /// `sasl.username`.
        public var username: String
        /// `sasl.password`.
        public var password: String

        /// Creates credentials.
        public init(mechanism: String, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// The TLS context (SSL, SASL_SSL); nil for plaintext.
    public var tls: NIOSSLContext?
    /// SASL credentials (SASL_PLAINTEXT, SASL_SSL); nil without SASL.
    public var sasl: Sasl?

    /// No TLS, no SASL.
    public init(tls: NIOSSLContext? = nil, sasl: Sasl? = nil) {
        self.tls = tls
        self.sasl = sasl
    }
}

extension BrokerConnection {
    /// Adds TLS to a new channel's pipeline when the configuration asks for it.
    static func addTLS(_ channel: any Channel, configuration: ConnectionConfiguration, host: String) throws {
        guard let tls = configuration.security?.tls else { return }
        // SNI and host name checks need a name, not an IP address.
        let isAddress = host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":")
        try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : host), position: .first)
    }

    /// Runs the SASL exchange (SaslHandshake v1, then SaslAuthenticate) when the configuration has credentials.
    static func authenticate(channel: any Channel, address: BrokerAddress, configuration: ConnectionConfiguration,
                             table: ApiVersionTable) async throws {
        guard let sasl = configuration.security?.sasl else { return }
        var handshake = SaslHandshakeRequest()
        handshake.mechanism = sasl.mechanism
        let handshakeVersion = min(table.negotiatedVersion(for: .saslHandshake) ?? 1, 1)
        guard handshakeVersion >= 1 else {
            throw KafkaClientError.unsupportedApi(address: address.description, api: "SaslHandshake v1")
        }
        var body = try await roundTrip(handshake, version: handshakeVersion, channel: channel, address: address,
                                       configuration: configuration)
        let answer = try SaslHandshakeResponse(from: &body, version: handshakeVersion)
        guard answer.errorCode == 0 else {
            throw KafkaClientError.broker(code: ErrorCode(rawValue: answer.errorCode), context: "SaslHandshake \(sasl.mechanism) to \(address)",
                                          message: "broker mechanisms: \(answer.mechanisms.joined(separator: ","))")
        }
        let version = table.negotiatedVersion(for: .saslAuthenticate) ?? 0
        func exchange(_ token: [UInt8]) async throws -> [UInt8] {
            var request = SaslAuthenticateRequest()
            request.authBytes = ByteBuffer(bytes: token)
            var body = try await roundTrip(request, version: version, channel: channel, address: address,
                                           configuration: configuration)
            let response = try SaslAuthenticateResponse(from: &body, version: version)
            guard response.errorCode == 0 else {
                throw KafkaClientError.broker(code: ErrorCode(rawValue: response.errorCode),
                                              context: "SASL \(sasl.mechanism) authentication to \(address)",
                                              message: response.errorMessage)
            }
            return response.authBytes.getBytes(at: response.authBytes.readerIndex, length: response.authBytes.readableBytes) ?? []
        }
        if sasl.mechanism == "PLAIN" {
            _ = try await exchange([0] + Array(sasl.username.utf8) + [0] + Array(sasl.password.utf8))
            return
        }
        guard let scram = ScramMechanism(rawValue: sasl.mechanism) else {
            throw KafkaClientError.protocolError("SASL mechanism \(sasl.mechanism) is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
        }
        var client = ScramClient(mechanism: scram, username: sasl.username, password: sasl.password)
        let serverFirst = try await exchange(client.firstMessage())
        let serverFinal = try await exchange(try client.finalMessage(serverFirst: serverFirst))
        try client.verify(serverFinal: serverFinal)
    }
}
