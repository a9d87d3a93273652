// BrokerConfig+Security: each listener's security (TLS context, SASL users, principal mapping) and
// the inter-broker client's, from Kafka's settings.
import Foundation
import NIOSSL
import RunnelClient

extension BrokerConfig {
    /// The security protocol of `listener` (`listener.security.protocol.map`, else its name).
    func securityProtocol(of listener: String) -> SecurityProtocol {
        SecurityProtocol(rawValue: securityProtocolMap()[listener] ?? listener) ?? .plaintext
    }

    private func text(_ name: String, listener: String) -> String? {
        guard let value = listenerValue(name, listener: listener)?.stringValue, !value.isEmpty else { return nil }
        return value
    }

    private func invalid(_ name: String, listener: String, _ value: String, _ reason: String) -> ConfigError {
        let prefixed = "listener.name.\(listener.lowercased()).\(name)"
        let shown = explicitValues[prefixed] != nil ? prefixed : name
        return .invalidValue(name: shown, value: value, reason: reason, origin: origins[shown] ?? .builtIn)
    }

    /// Security checks that need no files: inter-broker listener, principal rules, JAAS syntax, key
    /// stores named for TLS listeners.
    func validateSecurity() throws(ConfigError) {
        if let name = self["authorizer.class.name"]?.stringValue, !name.isEmpty,
           !AclAuthorizer.acceptedClassNames.contains(name) {
            throw .invalidValue(name: "authorizer.class.name", value: name,
                                reason: "expected empty or \(AclAuthorizer.acceptedClassNames.sorted().joined(separator: " or "))",
                                origin: origins["authorizer.class.name"] ?? .builtIn)
        }
        if let inter = self["inter.broker.listener.name"]?.stringValue, !inter.isEmpty,
           !listeners.contains(where: { $0.name == inter }) {
            throw .invalidValue(name: "inter.broker.listener.name", value: inter,
                                reason: "no listener has this name (listeners: \(listeners.map(\.name).joined(separator: ",")))",
                                origin: origins["inter.broker.listener.name"] ?? .builtIn)
        }
        for listener in listeners {
            let name = listener.name
            let rules = text("ssl.principal.mapping.rules", listener: name) ?? "DEFAULT"
            do {
                _ = try SslPrincipalMapper(parsing: rules)
            } catch {
                throw invalid("ssl.principal.mapping.rules", listener: name, rules, error.reason)
            }
            let securityProtocol = securityProtocol(of: name)
            if securityProtocol.usesTLS, text("ssl.keystore.location", listener: name) == nil,
               text("ssl.keystore.certificate.chain", listener: name) == nil || text("ssl.keystore.key", listener: name) == nil {
                throw invalid("ssl.keystore.location", listener: name, "",
                              "listener \(name) uses \(securityProtocol.rawValue): set ssl.keystore.location (a PEM file with the key and certificate chain) or ssl.keystore.key and ssl.keystore.certificate.chain")
            }
            for mechanism in ConfigTable.saslMechanisms {
                guard let jaas = jaasConfig(listener: name, mechanism: mechanism) else { continue }
                do {
                    _ = try JaasConfig(parsing: jaas)
                } catch {
                    throw invalid("\(mechanism.lowercased()).sasl.jaas.config", listener: name, "(hidden)", error.description)
                }
            }
        }
    }

    /// Every listener's security, reading key stores and trust stores.
    /// - Throws: `ConfigError` naming the setting whose file or PEM text cannot be used.
    func listenerSecurity(scramCredentials: any ScramCredentialSource) throws(ConfigError) -> [String: ListenerSecurity] {
        var result: [String: ListenerSecurity] = [:]
        let failureDelay = FailedAuthenticationDelay(baseMs: self["connection.failed.authentication.delay.ms"]?.intValue ?? 100)
        for listener in listeners {
            let name = listener.name
            let securityProtocol = securityProtocol(of: name)
            let rules = text("ssl.principal.mapping.rules", listener: name) ?? "DEFAULT"
            let mapper: SslPrincipalMapper
            do {
                mapper = try SslPrincipalMapper(parsing: rules)
            } catch {
                throw invalid("ssl.principal.mapping.rules", listener: name, rules, error.reason)
            }
            var sasl: SaslServerConfiguration?
            if securityProtocol.usesSASL {
                var users: [String: String] = [:]
                if let jaas = jaasConfig(listener: name, mechanism: "PLAIN") {
                    do {
                        users = try JaasConfig(parsing: jaas).plainUsers
                    } catch {
                        throw invalid("plain.sasl.jaas.config", listener: name, "(hidden)", error.description)
                    }
                }
                sasl = SaslServerConfiguration(enabledMechanisms: listenerValue("sasl.enabled.mechanisms", listener: name)?.listValue
                                                   ?? ConfigTable.saslMechanisms,
                                               plainUsers: users, scramCredentials: scramCredentials,
                                               failureDelay: failureDelay)
                sasl?.reauthenticationMs = max(0, listenerValue("connections.max.reauth.ms", listener: name)?.intValue ?? 0)
            }
            var tls: TLSContextReloader?
            if securityProtocol.usesTLS {
                let config = self
                let files = ["ssl.keystore.location", "ssl.truststore.location"].compactMap { text($0, listener: name) }
                do {
                    tls = try TLSContextReloader(listener: name, files: files) { try config.serverTLSContext(listener: name) }
                } catch let error as ConfigError {
                    throw error
                } catch {
                    throw invalid("ssl.keystore.location", listener: name, "", "\(error)")
                }
            }
            result[name] = ListenerSecurity(securityProtocol: securityProtocol, tls: tls, principalMapper: mapper, sasl: sasl)
        }
        return result
    }

    func serverTLSContext(listener: String) throws(ConfigError) -> NIOSSLContext {
        let (chain, key) = try keyStore(listener: listener)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        try applyProtocols(&tls, listener: listener)
        let clientAuth = text("ssl.client.auth", listener: listener) ?? "none"
        if let roots = try trustStore(listener: listener) { tls.trustRoots = .certificates(roots) }
        switch clientAuth {
        case "required": tls.certificateVerification = .noHostnameVerification
        case "requested": tls.certificateVerification = .optionalVerification
        default: tls.certificateVerification = .none
        }
        if clientAuth != "none", tls.trustRoots == nil {
            throw invalid("ssl.truststore.location", listener: listener, "",
                          "ssl.client.auth=\(clientAuth) needs a trust store to check client certificates against")
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw invalid("ssl.keystore.location", listener: listener, text("ssl.keystore.location", listener: listener) ?? "",
                          "cannot build a TLS context: \(error)")
        }
    }

    private func applyProtocols(_ tls: inout TLSConfiguration, listener: String) throws(ConfigError) {
        let enabled = listenerValue("ssl.enabled.protocols", listener: listener)?.listValue ?? ["TLSv1.2", "TLSv1.3"]
        tls.minimumTLSVersion = enabled.contains("TLSv1.2") ? .tlsv12 : .tlsv13
        tls.maximumTLSVersion = enabled.contains("TLSv1.3") ? .tlsv13 : .tlsv12
    }

    /// The certificate chain and private key of `listener` (`ssl.keystore.location`, or
    /// `ssl.keystore.certificate.chain` and `ssl.keystore.key`).
    func keyStore(listener: String) throws(ConfigError) -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let password = text("ssl.key.password", listener: listener)
        func loadKey(_ bytes: [UInt8]) throws -> NIOSSLPrivateKey {
            if let password {
                return try NIOSSLPrivateKey(bytes: bytes, format: .pem) { setter in setter(Array(password.utf8)) }
            }
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        }
        if let location = text("ssl.keystore.location", listener: listener) {
            let bytes: [UInt8]
            do {
                bytes = try Self.readFile(location)
            } catch {
                throw invalid("ssl.keystore.location", listener: listener, location, "cannot read the file: \(error)")
            }
            do {
                let chain = try NIOSSLCertificate.fromPEMBytes(bytes)
                guard !chain.isEmpty else {
                    throw invalid("ssl.keystore.location", listener: listener, location, "no CERTIFICATE block in the file")
                }
                return (chain, try loadKey(bytes))
            } catch let error as ConfigError {
                throw error
            } catch {
                throw invalid("ssl.keystore.location", listener: listener, location,
                              "expected a PEM file with the private key and the certificate chain: \(error)")
            }
        }
        guard let chainText = text("ssl.keystore.certificate.chain", listener: listener),
              let keyText = text("ssl.keystore.key", listener: listener) else {
            throw invalid("ssl.keystore.location", listener: listener, "", "no key store: set ssl.keystore.location")
        }
        do {
            return (try NIOSSLCertificate.fromPEMBytes(Array(chainText.utf8)), try loadKey(Array(keyText.utf8)))
        } catch {
            throw invalid("ssl.keystore.key", listener: listener, "(hidden)", "expected PEM text: \(error)")
        }
    }

    /// The CA certificates of `listener` (`ssl.truststore.location` or `ssl.truststore.certificates`), nil when unset.
    func trustStore(listener: String) throws(ConfigError) -> [NIOSSLCertificate]? {
        if let location = text("ssl.truststore.location", listener: listener) {
            do {
                let certificates = try NIOSSLCertificate.fromPEMBytes(Self.readFile(location))
                guard !certificates.isEmpty else { throw invalid("ssl.truststore.location", listener: listener, location, "no certificate in the file") }
                return certificates
            } catch let error as ConfigError {
                throw error
            } catch {
                throw invalid("ssl.truststore.location", listener: listener, location, "expected a PEM file of CA certificates: \(error)")
            }
        }
        guard let pem = text("ssl.truststore.certificates", listener: listener) else { return nil }
        do {
            return try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
        } catch {
            throw invalid("ssl.truststore.certificates", listener: listener, "(hidden)", "expected PEM certificates: \(error)")
        }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The listener brokers use to reach each other: `inter.broker.listener.name`, else the first listener.
    var interBrokerListener: String {
        if let name = self["inter.broker.listener.name"]?.stringValue, !name.isEmpty { return name }
        return listeners.first?.name ?? "PLAINTEXT"
    }

    /// How this broker connects to others' inter-broker listener: TLS with this broker's trust store (and
    /// key store as its client certificate), SASL with `sasl.mechanism.inter.broker.protocol` and the
    /// username/password of that listener's JAAS config.
    func interBrokerClientSecurity() throws(ConfigError) -> ClientSecurity? {
        let listener = interBrokerListener
        let securityProtocol = securityProtocol(of: listener)
        guard securityProtocol != .plaintext else { return nil }
        var security = ClientSecurity()
        if securityProtocol.usesTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let roots = try trustStore(listener: listener) { tls.trustRoots = .certificates(roots) }
            let (chain, key) = try keyStore(listener: listener)
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(key)
            try applyProtocols(&tls, listener: listener)
            if (text("ssl.endpoint.identification.algorithm", listener: listener) ?? "") != "https" {
                tls.certificateVerification = .noHostnameVerification
            }
            do {
                security.tls = try NIOSSLContext(configuration: tls)
            } catch {
                throw invalid("ssl.truststore.location", listener: listener, "", "cannot build the inter-broker TLS context: \(error)")
            }
        }
        if securityProtocol.usesSASL {
            let mechanism = self["sasl.mechanism.inter.broker.protocol"]?.stringValue ?? "PLAIN"
            guard let jaas = jaasConfig(listener: listener, mechanism: mechanism),
                  let credentials = try? JaasConfig(parsing: jaas).clientCredentials else {
                throw invalid("\(mechanism.lowercased()).sasl.jaas.config", listener: listener, "(hidden)",
                              "the inter-broker listener \(listener) uses SASL: its JAAS config needs username and password options for \(mechanism)")
            }
            security.sasl = ClientSecurity.Sasl(mechanism: mechanism, username: credentials.username, password: credentials.password)
        }
        return security
    }
}
