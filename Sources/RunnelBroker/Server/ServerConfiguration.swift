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

    /// Creates a configuration; the defaults are Kafka's.
    public init(
        listeners: [Listener] = [Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)],
        maxRequestBytes: Int = 104_857_600,
        maxConnections: Int = Int(Int32.max),
        maxConnectionsPerIP: Int = Int(Int32.max),
        idleTimeout: TimeAmount = .milliseconds(600_000),
        maxPendingRequestsPerConnection: Int = 64,
        shutdownTimeout: TimeAmount = .seconds(30)
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
