// ServerConfiguration: the network layer's settings, taken from the broker config.
import Foundation
import NIOCore

/// The settings the network layer needs, resolved from `BrokerConfig` (or set directly in tests).
public struct ServerConfiguration: Sendable {
    /// Where to accept connections (`listeners`).
    public var listeners: [Listener]
    /// The largest request accepted (`socket.request.max.bytes`).
    public var maxRequestBytes: Int
    /// The most open connections (`max.connections`).
    public var maxConnections: Int
    /// The most open connections from one IP address (`max.connections.per.ip`).
    public var maxConnectionsPerIP: Int
    /// Close connections with no traffic for this long (`connections.max.idle.ms`).
    public var idleTimeout: TimeAmount
    /// Stop reading a connection with this many responses outstanding
    /// (`queued.max.requests.per.connection`).
    public var maxPendingRequestsPerConnection: Int
    /// How long shutdown waits for in-flight requests (`shutdown.timeout.ms`).
    public var shutdownTimeout: TimeAmount
    /// Each listener's security by listener name; a listener not named here is PLAINTEXT.
    public var security: [String: ListenerSecurity] = [:]
    /// The largest request before SASL authentication (`sasl.server.max.receive.size`).
    public var maxUnauthenticatedRequestBytes = 524_288
    /// Per-address exceptions to `maxConnectionsPerIP` (`max.connections.per.ip.overrides`).
    public var maxConnectionsPerIPOverrides: [String: Int] = [:]
    /// New connections per second across the broker (`max.connection.creation.rate`).
    public var maxConnectionCreationRate = Int(Int32.max)
    /// Request bytes read and not yet answered, across the broker (`queued.max.request.bytes`).
    public var requestMemory = RequestMemoryBudget(limit: -1)
    /// The client quotas, whose IP entities limit connection creation (set by the broker).
    var clientQuotas: ClientQuotaManager?

    /// The settings of a broker configured with every default (from the settings table).
    public static let defaults = BrokerConfig().serverConfiguration

    /// Creates a configuration; what is not given is the settings table's default.
    public init(
        listeners: [Listener] = ServerConfiguration.defaults.listeners,
        maxRequestBytes: Int = ServerConfiguration.defaults.maxRequestBytes,
        maxConnections: Int = ServerConfiguration.defaults.maxConnections,
        maxConnectionsPerIP: Int = ServerConfiguration.defaults.maxConnectionsPerIP,
        idleTimeout: TimeAmount = ServerConfiguration.defaults.idleTimeout,
        maxPendingRequestsPerConnection: Int = ServerConfiguration.defaults.maxPendingRequestsPerConnection,
        shutdownTimeout: TimeAmount = ServerConfiguration.defaults.shutdownTimeout
    ) {
        self.listeners = listeners
        self.maxRequestBytes = maxRequestBytes
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.idleTimeout = idleTimeout
        self.maxPendingRequestsPerConnection = maxPendingRequestsPerConnection
        self.shutdownTimeout = shutdownTimeout
    }
}

extension ServerConfiguration {
    /// `max.connections.per.ip.overrides`, `max.connection.creation.rate` and `queued.max.request.bytes`.
    mutating func applyConnectionLimits(_ config: BrokerConfig) {
        maxConnectionsPerIPOverrides = Self.parseOverrides(config["max.connections.per.ip.overrides"]?.stringValue ?? "") ?? [:]
        maxConnectionCreationRate = Int(clamping: config["max.connection.creation.rate"]?.intValue ?? Int64(Int32.max))
        requestMemory = RequestMemoryBudget(limit: config["queued.max.request.bytes"]?.intValue ?? -1)
    }

    /// Kafka's `host:N,host2:M` (an IPv6 address keeps its colons: the count follows the last one).
    /// nil when an entry is not `host:N` with N ≥ 0.
    static func parseOverrides(_ text: String) -> [String: Int]? {
        var overrides: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let entry = item.trimmingCharacters(in: .whitespaces)
            guard let colon = entry.lastIndex(of: ":"), let count = Int(entry[entry.index(after: colon)...]), count >= 0 else { return nil }
            let host = entry[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: " []"))
            guard !host.isEmpty else { return nil }
            overrides[host] = count
        }
        return overrides
    }
}

extension BrokerConfig {
    /// `max.connections.per.ip.overrides` must be Kafka's `host:N,host2:M`.
    func validateConnectionLimits() throws(ConfigError) {
        let text = self["max.connections.per.ip.overrides"]?.stringValue ?? ""
        guard ServerConfiguration.parseOverrides(text) == nil else { return }
        throw .invalidValue(name: "max.connections.per.ip.overrides", value: text,
                            reason: "expected host:count pairs separated by commas, e.g. 127.0.0.1:200,10.0.0.7:5",
                            origin: origins["max.connections.per.ip.overrides"] ?? .builtIn)
    }
}
