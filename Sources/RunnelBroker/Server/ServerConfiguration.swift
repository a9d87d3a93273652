// ServerConfiguration: the network layer's settings, taken from the broker config.
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
