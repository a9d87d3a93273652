// SecurityConfigDefinitions: the settings of listeners' security (TLS, SASL) and their
// listener-prefixed forms (`listener.name.<listener>.<setting>`), as Kafka names them.

import KafkaProtocol
extension ConfigTable {
    private static func security(
        _ name: String, _ type: ConfigType, _ defaultValue: ConfigValue?, _ validator: ConfigValidator,
        _ documentation: String
    ) -> ConfigDefinition {
        ConfigDefinition(name, type, default: defaultValue, scope: .broker, validator: validator, documentation)
    }

    private static func security(
        _ name: String, _ type: ConfigType, _ defaultValue: ConfigValue?, _ documentation: String
    ) -> ConfigDefinition {
        security(name, type, defaultValue, .none, documentation)
    }

    /// The SASL mechanisms Runnel implements.
    static let saslMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    /// Listener security settings (docs/security.md).
    static let securityDefinitions: [ConfigDefinition] = [
        security("inter.broker.listener.name", .string, nil,
                 "Listener brokers use to reach each other (replication, transaction markers). Runnel: unset means the first listener (Kafka: the listener named after security.inter.broker.protocol)."),
        security("sasl.enabled.mechanisms", .list, .list(saslMechanisms), .listOf(saslMechanisms),
                 "SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners accept. Runnel: PLAIN and SCRAM only, all enabled by default (Kafka: GSSAPI)."),
        security("sasl.mechanism.inter.broker.protocol", .string, .string("PLAIN"), .oneOf(saslMechanisms),
                 "SASL mechanism brokers use with each other over a SASL inter-broker listener; the credentials are the username and password options of that listener's JAAS config. Runnel: PLAIN by default (Kafka: GSSAPI)."),
        security("sasl.jaas.config", .password, nil,
                 "JAAS login configuration; set per listener and mechanism as listener.name.<listener>.<mechanism>.sasl.jaas.config (PLAIN: user_<name>=\"<password>\" entries; username/password are what this broker sends to others)."),
        security("sasl.server.max.receive.size", .int, .int(524_288), .atLeast(1),
                 "Largest request a SASL listener reads before the client authenticated (bounds SASL tokens)."),
        security("connections.max.reauth.ms", .long, .int(0), .atLeast(0),
                 "Lifetime of a SASL session (KIP-368): SaslAuthenticate v1+ tells clients, which re-authenticate before it ends; a connection whose session ended is closed at its next request. 0 (default): sessions never end. Also per listener (listener.name.<listener>.connections.max.reauth.ms)."),
        security("connection.failed.authentication.delay.ms", .int, .int(100), .atLeast(0),
                 "Delay before answering a failed authentication. Runnel: doubles with each failure from the same address within a minute, up to 5 s."),
        ConfigDefinition("ssl.reload.check.interval.ms", .long, default: .int(30_000), scope: .broker, validator: .atLeast(0),
                         runnelOnly: true,
                         "How often TLS listeners look for changed key store / trust store files and load them for new connections; 0 disables."),
        security("ssl.keystore.type", .string, .string("PEM"), .oneOf(["PEM"]),
                 "Format of the key store. Runnel: PEM only (Kafka: JKS by default)."),
        security("ssl.keystore.location", .string, nil,
                 "PEM file holding this broker's private key and certificate chain (or use ssl.keystore.key and ssl.keystore.certificate.chain)."),
        security("ssl.keystore.key", .password, nil, "This broker's private key, PEM text."),
        security("ssl.keystore.certificate.chain", .password, nil, "This broker's certificate chain, PEM text."),
        security("ssl.keystore.password", .password, nil, "Key store password. Runnel: not used (PEM key stores are not encrypted as a whole)."),
        security("ssl.key.password", .password, nil, "Password of an encrypted PEM private key."),
        security("ssl.truststore.type", .string, .string("PEM"), .oneOf(["PEM"]),
                 "Format of the trust store. Runnel: PEM only (Kafka: JKS by default)."),
        security("ssl.truststore.location", .string, nil,
                 "PEM file of the CA certificates client certificates (and, for inter-broker links, broker certificates) are checked against."),
        security("ssl.truststore.certificates", .password, nil, "CA certificates, PEM text (instead of ssl.truststore.location)."),
        security("ssl.truststore.password", .password, nil, "Trust store password. Runnel: not used for PEM."),
        security("ssl.client.auth", .string, .string("none"), .oneOf(["none", "requested", "required"]),
                 "Client certificates on SSL listeners: none, requested (checked when given) or required."),
        security("ssl.enabled.protocols", .list, .list(["TLSv1.2", "TLSv1.3"]), .listOf(["TLSv1.2", "TLSv1.3"]),
                 "TLS versions accepted."),
        security("ssl.protocol", .string, .string("TLSv1.3"), .oneOf(["TLSv1.2", "TLSv1.3", "TLS"]),
                 "TLS protocol. Runnel: the highest of ssl.enabled.protocols is used."),
        security("ssl.principal.mapping.rules", .string, .string("DEFAULT"),
                 "Rules mapping a client certificate's distinguished name to a principal name (RULE:pattern/replacement/[LU], …, DEFAULT)."),
        security("authorizer.class.name", .string, .string(""),
                 "The authorizer: empty (none; every request allowed) or Kafka's org.apache.kafka.metadata.authorizer.StandardAuthorizer (also kafka.security.authorizer.AclAuthorizer): ACLs from CreateAcls, kept in the metadata store."),
        security("super.users", .string, .string(""),
                 "Principals allowed everything, `;`-separated (User:admin;User:broker)."),
        security("allow.everyone.if.no.acl.found", .boolean, .bool(false),
                 "With an authorizer, allow a resource no ACL matches (default false: denied)."),
        security("ssl.endpoint.identification.algorithm", .string, .string("https"),
                 "`https` checks a broker certificate's host name on inter-broker TLS links; empty disables the check."),
    ]

    /// The settings that may be set for one listener as `listener.name.<listener>.<setting>`.
    static let listenerPrefixable: Set<String> = Set(securityDefinitions.map(\.name)).subtracting([
        "inter.broker.listener.name", "authorizer.class.name", "super.users", "allow.everyone.if.no.acl.found",
        "sasl.server.max.receive.size", "connection.failed.authentication.delay.ms", "ssl.reload.check.interval.ms",
    ])

    /// The definition of a listener-prefixed setting, named with its full name:
    /// `listener.name.<listener>.<setting>`, or `listener.name.<listener>.<mechanism>.sasl.jaas.config`.
    static func listenerPrefixed(_ name: String) -> ConfigDefinition? {
        let prefix = "listener.name."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), dot != rest.startIndex else { return nil }
        var setting = String(rest[rest.index(after: dot)...])
        let jaas = ".sasl.jaas.config"
        if setting.hasSuffix(jaas), setting != "sasl.jaas.config" {
            let mechanism = setting.dropLast(jaas.count).uppercased()
            guard saslMechanisms.contains(mechanism) else { return nil }
            setting = "sasl.jaas.config"
        }
        guard listenerPrefixable.contains(setting), var definition = broker[setting] else { return nil }
        definition.name = name
        return definition
    }

    /// A broker setting by name, listener-prefixed security settings included.
    static func brokerDefinition(named name: String) -> ConfigDefinition? {
        broker[name] ?? listenerPrefixed(name)
    }
}

extension BrokerConfig {
    /// The value of security setting `name` for `listener`: `listener.name.<listener lower-cased>.<name>`
    /// when set, else the broker-wide `name`.
    func listenerValue(_ name: String, listener: String) -> ConfigValue? {
        explicitValues["listener.name.\(listener.lowercased()).\(name)"] ?? self[name]
    }

    /// The JAAS config for `mechanism` on `listener`: `listener.name.<l>.<mechanism>.sasl.jaas.config`,
    /// else `listener.name.<l>.sasl.jaas.config`, else `sasl.jaas.config`.
    func jaasConfig(listener: String, mechanism: String) -> String? {
        let prefix = "listener.name.\(listener.lowercased())."
        return explicitValues[prefix + mechanism.lowercased() + ".sasl.jaas.config"]?.stringValue
            ?? explicitValues[prefix + "sasl.jaas.config"]?.stringValue
            ?? self["sasl.jaas.config"]?.stringValue
    }
}
