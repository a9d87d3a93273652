// Broker+Security: the listeners' security, resolved when the broker starts.

extension Broker {
    /// The network settings with every listener's TLS context and SASL users; reads the key and trust
    /// stores, so a missing or unreadable file stops the start with the setting's name.
    func securedServerConfiguration() throws(ConfigError) -> ServerConfiguration {
        var configuration = config.serverConfiguration
        configuration.security = try config.listenerSecurity(scramCredentials: scramCredentials)
        _ = try config.interBrokerClientSecurity()  // the replication links use it: fail now, not at first fetch
        return configuration
    }

    /// Where SASL/SCRAM finds users' credentials.
    var scramCredentials: any ScramCredentialSource { MetadataScramCredentials(store: core.metadataStore) }
}
