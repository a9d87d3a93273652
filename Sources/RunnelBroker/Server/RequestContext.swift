// RequestContext: what a router learns about the connection a request arrived on.
import Logging
import NIOCore

/// The connection-level facts a `RequestRouter` gets with every request.
public struct RequestContext: Sendable {
    /// The event loop that owns the connection; completing the response future on it avoids a hop.
    public var eventLoop: any EventLoop
    /// The peer's address, when the socket reports one.
    public var clientAddress: SocketAddress?
    /// The broker's end of the connection: the address to advertise when a listener binds all
    /// interfaces and `advertised.listeners` is unset.
    public var localAddress: SocketAddress?
    /// A broker-unique id for the connection (Kafka style: `local-remote-index`).
    public var connectionId: String
    /// The name of the listener the connection was accepted on (e.g. `PLAINTEXT`).
    public var listenerName: String
    /// A logger carrying `connection` and `client` metadata.
    public var logger: Logger
    /// The connection's queue for requests handled off the event loop, in arrival order.
    public let lane: RequestLane
    /// The connection's security state: its listener's protocol, its principal, its SASL exchange.
    public let session: ConnectionSession
    /// Until when the connection is muted after a throttled response (client quotas).
    public let throttle = ConnectionThrottle()

    /// Creates a context.
    public init(
        eventLoop: any EventLoop, clientAddress: SocketAddress?, localAddress: SocketAddress? = nil,
        connectionId: String, listenerName: String, logger: Logger, session: ConnectionSession = ConnectionSession()
    ) {
        self.eventLoop = eventLoop
        self.clientAddress = clientAddress
        self.localAddress = localAddress
        self.connectionId = connectionId
        self.listenerName = listenerName
        self.logger = logger
        self.lane = RequestLane()
        self.session = session
    }
}
