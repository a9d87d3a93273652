// Broker+Quotas: the client quotas, set up when the broker starts and kept in step with the store.

extension Broker {
    /// Sets the quota window from `quota.window.num` / `quota.window.size.seconds`, loads the quotas and
    /// follows the store's `quota` records; returns the following task.
    func startClientQuotas() -> Task<Void, Never> {
        let quotas = core.quotas
        quotas.configure(ClientQuotaManager.Window(
            samples: Int(config["quota.window.num"]?.intValue ?? 11),
            sizeMs: (config["quota.window.size.seconds"]?.intValue ?? 1) * 1000))
        quotas.load(ClientQuotaTable(image: core.metadataStore.image))
        let store = core.metadataStore
        return Task { await quotas.follow(store) }
    }

    /// The network settings with the client quotas that limit connection creation per address.
    func withClientQuotas(_ configuration: ServerConfiguration) -> ServerConfiguration {
        var configuration = configuration
        configuration.clientQuotas = core.quotas
        return configuration
    }
}
