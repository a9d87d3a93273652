// ClientProperties: `-X key=value` and `--command-config FILE` — client security with Kafka's and
// librdkafka's property names, turned into RunnelClient's `ClientSecurity`.
import Foundation
import NIOSSL
import RunnelBroker
import RunnelClient

/// Client properties as Kafka's tools (`--command-config`) and kcat (`-X`) take them.
struct ClientProperties {
    var values: [String: String] = [:]

    /// Parses a Java properties file: `key=value` or `key: value` lines, `#`/`!` comments, `\` line
    /// continuations.
    static func parseFile(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty, line.hasPrefix("#") || line.hasPrefix("!") || line.isEmpty { continue }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending += line
                continue
            }
            line = pending + line
            pending = ""
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = line[..<separator].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            result[key] = value
        }
        return result
    }

    func text(_ names: String...) -> String? {
        for name in names { if let value = values[name], !value.isEmpty { return value } }
        return nil
    }

    /// The security these properties describe; nil for PLAINTEXT.
    func security() throws -> ClientSecurity? {
        let securityProtocol = (text("security.protocol") ?? "PLAINTEXT").uppercased()
        guard let parsed = SecurityProtocol(rawValue: securityProtocol) else {
            throw CLIError.usage("security.protocol=\(securityProtocol) is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        }
        guard parsed != .plaintext else { return nil }
        var security = ClientSecurity()
        if parsed.usesTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                if let ca = text("ssl.ca.location", "ssl.truststore.location") {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
                } else if let pem = text("ssl.ca.pem", "ssl.truststore.certificates") {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
                }
                let keyPassword = text("ssl.key.password")
                if let cert = text("ssl.certificate.location"), let key = text("ssl.key.location") {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                    tls.privateKey = .privateKey(try loadKey(file: key, password: keyPassword))
                } else if let keystore = text("ssl.keystore.location") {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(keystore).map { .certificate($0) }
                    tls.privateKey = .privateKey(try loadKey(file: keystore, password: keyPassword))
                }
                if text("ssl.endpoint.identification.algorithm") == "none" || values["ssl.endpoint.identification.algorithm"] == "" {
                    tls.certificateVerification = .noHostnameVerification
                }
                if text("enable.ssl.certificate.verification") == "false" { tls.certificateVerification = .none }
                security.tls = try NIOSSLContext(configuration: tls)
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError.usage("cannot set up TLS: \(error)", hint: "ssl.ca.location names a PEM file of CA certificates")
            }
        }
        if parsed.usesSASL {
            let mechanism = (text("sasl.mechanism", "sasl.mechanisms") ?? "PLAIN").uppercased()
            var username = text("sasl.username")
            var password = text("sasl.password")
            if let jaas = text("sasl.jaas.config"), let credentials = try? JaasConfig(parsing: jaas).clientCredentials {
                username = username ?? credentials.username
                password = password ?? credentials.password
            }
            guard let username, let password else {
                throw CLIError.usage("security.protocol=\(securityProtocol) needs sasl.username and sasl.password (or sasl.jaas.config)")
            }
            security.sasl = ClientSecurity.Sasl(mechanism: mechanism, username: username, password: password)
        }
        return security
    }

    private func loadKey(file: String, password: String?) throws -> NIOSSLPrivateKey {
        if let password {
            return try NIOSSLPrivateKey(file: file, format: .pem) { setter in setter(Array(password.utf8)) }
        }
        return try NIOSSLPrivateKey(file: file, format: .pem)
    }
}

extension ConnectionOptions {
    /// The client properties: `--command-config`, then each `-X`.
    func clientProperties() throws -> ClientProperties {
        var properties = ClientProperties()
        if let commandConfig {
            guard let text = try? String(contentsOfFile: commandConfig, encoding: .utf8) else {
                throw CLIError.usage("cannot read --command-config \(commandConfig)")
            }
            properties.values = ClientProperties.parseFile(text)
        }
        for pair in properties_ {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CLIError.usage("-X '\(pair)' is not key=value", hint: "e.g. -X security.protocol=SASL_SSL")
            }
            properties.values[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return properties
    }

    private var properties_: [String] { properties }

    /// The connection security the properties ask for.
    func clientSecurity() throws -> ClientSecurity? {
        try clientProperties().security()
    }
}
