// BrokerConfig cross-setting checks: rules that involve more than one setting.
import RunnelEtcd

extension BrokerConfig {
    /// Checks rules spanning several settings; called by `load` after all sources are applied.
    public func validateCombination() throws(ConfigError) {
        let protocols = securityProtocolMap()
        for listener in listeners {
            let securityProtocol = protocols[listener.name] ?? listener.name
            guard SecurityProtocol(rawValue: securityProtocol) != nil else {
                throw .invalidValue(
                    name: "listeners", value: "\(listener)",
                    reason: "security protocol \(securityProtocol) is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; map the listener name in listener.security.protocol.map",
                    origin: origins["listeners"] ?? .builtIn)
            }
        }
        try validateSecurity()
        try validateConnectionLimits()
        let names = listeners.map(\.name)
        guard Set(names).count == names.count else {
            throw .invalidValue(
                name: "listeners", value: names.joined(separator: ","), reason: "each listener needs its own name",
                origin: origins["listeners"] ?? .builtIn)
        }
        if let advertised = explicitValues["advertised.listeners"]?.listValue {
            for listener in Listener.parseList(advertised) ?? [] where listener.host.isEmpty || listener.host == "0.0.0.0" || listener.host == "::" {
                throw .invalidValue(
                    name: "advertised.listeners", value: "\(listener)",
                    reason: "clients cannot connect to a wildcard address; advertise a host name or IP",
                    origin: origins["advertised.listeners"] ?? .builtIn)
            }
        }
        if string(.metadataStore) == "etcd" {
            for endpoint in list(.etcdEndpoints) where EtcdEndpoint(parsing: endpoint) == nil {
                throw .invalidValue(
                    name: "etcd.endpoints", value: endpoint,
                    reason: "expected http://host:port (TLS endpoints are not supported), e.g. http://127.0.0.1:2379",
                    origin: origins["etcd.endpoints"] ?? .builtIn)
            }
        }
        let minSession = int(.groupMinSessionTimeoutMs), maxSession = int(.groupMaxSessionTimeoutMs)
        guard minSession <= maxSession else {
            throw .invalidValue(
                name: "group.min.session.timeout.ms", value: "\(minSession)",
                reason: "must not exceed group.max.session.timeout.ms=\(maxSession)",
                origin: origins["group.min.session.timeout.ms"] ?? .builtIn)
        }
    }

    /// `listener.security.protocol.map` as listener name → security protocol.
    public func securityProtocolMap() -> [String: String] {
        var map: [String: String] = [:]
        for pair in (self["listener.security.protocol.map"]?.stringValue ?? "").split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingWhitespace() }
            if parts.count == 2 { map[parts[0]] = parts[1] }
        }
        return map
    }
}
