// Broker+Security: the listeners' security, resolved when the broker starts.

extension Broker {
    /// The network settings with every listener's TLS context and SASL users; reads the key and trust
    /// stores, so a missing or unreadable file stops the start with the setting's name.
    func securedServerConfiguration() throws(ConfigError) -> ServerConfiguration {
        var configuration = config.serverConfiguration
        configuration.security = try config.listenerSecurity(scramCredentials: scramCredentials)
        configuration.maxUnauthenticatedRequestBytes = Int(config["sasl.server.max.receive.size"]?.intValue ?? 524_288)
        _ = try config.interBrokerClientSecurity()  // the replication links use it: fail now, not at first fetch
        return configuration
    }

    /// Installs the ACL authorizer `authorizer.class.name` names and keeps it in step with the store's
    /// ACLs; returns the task following the store (nil without an authorizer).
    func startAuthorizer() -> Task<Void, Never>? {
        let authorizer = AclAuthorizer(config, logger: logger)
        guard authorizer.enabled else { return nil }
        core.access.install(authorizer)
        authorizer.load(from: core.metadataStore.image)
        let store = core.metadataStore
        return Task { await authorizer.follow(store) }
    }

    /// Where SASL/SCRAM finds users' credentials.
    var scramCredentials: any ScramCredentialSource { MetadataScramCredentials(store: core.metadataStore) }
}
