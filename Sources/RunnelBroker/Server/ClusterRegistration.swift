// ClusterRegistration: this broker's registration (listeners, rack) and its etcd store settings, from
// the configuration.
import Foundation
import RunnelCluster
import RunnelEtcd

enum ClusterRegistration {
    /// What this broker publishes: every advertised listener (wildcard hosts replaced by this machine's
    /// name, as Metadata does) and `broker.rack`.
    static func registration(_ config: BrokerConfig) -> BrokerRegistration {
        let protocols = config.securityProtocolMap()
        let advertised = config.advertisedListeners.isEmpty ? config.listeners : config.advertisedListeners
        let listeners = advertised.map { listener in
            var host = listener.host
            if host.isEmpty || host == "0.0.0.0" || host == "::" { host = ProcessInfo.processInfo.hostName }
            return BrokerEndpoint(name: listener.name, host: host, port: Int32(clamping: listener.port),
                                  securityProtocol: protocols[listener.name] ?? listener.name)
        }
        let rack = config["broker.rack"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return BrokerRegistration(nodeId: config.nodeId, listeners: listeners, rack: rack)
    }

    /// The etcd store's configuration: `etcd.endpoints`, `etcd.prefix`, `etcd.lease.ttl.ms`,
    /// `etcd.request.timeout.ms` (endpoints were validated when the config was loaded).
    static func etcdConfiguration(_ config: BrokerConfig) -> EtcdMetadataStore.Configuration {
        let endpoints = config.list(.etcdEndpoints).compactMap(EtcdEndpoint.init(parsing:))
        let client = EtcdClientConfiguration(endpoints: endpoints, requestTimeout: .milliseconds(config.int(.etcdRequestTimeoutMs)))
        return EtcdMetadataStore.Configuration(client: client, prefix: config.string(.etcdPrefix),
                                               leaseTTL: .milliseconds(config.int(.etcdLeaseTtlMs)),
                                               registration: registration(config))
    }
}
