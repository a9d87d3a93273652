// BrokerRegistration: what a live broker publishes about itself (id, addresses, rack), and its session.
import KafkaProtocol

/// One listener of a broker, as clients and peers reach it.
public struct BrokerEndpoint: Sendable, Equatable, Codable {
    /// The listener name (`PLAINTEXT`, `INTERNAL`, ...).
    public var name: String
    /// The advertised host.
    public var host: String
    /// The advertised port.
    public var port: Int32
    /// The listener's security protocol (`PLAINTEXT`).
    public var securityProtocol: String

    /// Creates an endpoint.
    public init(name: String, host: String, port: Int32, securityProtocol: String = "PLAINTEXT") {
        self.name = name
        self.host = host
        self.port = port
        self.securityProtocol = securityProtocol
    }

    enum CodingKeys: String, CodingKey { case name, host, port, securityProtocol = "security_protocol" }
}

/// A registered (live) broker. In etcd it is `<prefix>/brokers/<node id>`, attached to the broker's
/// lease: it disappears when the broker stops renewing.
public struct BrokerRegistration: Sendable, Equatable, Codable {
    /// `node.id`.
    public var nodeId: Int32
    /// Every advertised listener; the first is the one Metadata answers with.
    public var listeners: [BrokerEndpoint]
    /// `broker.rack`, nil when unset.
    public var rack: String?
    /// Random per process start: tells a restarted broker's registration from its previous one.
    public var incarnationId: String
    /// Kafka's broker epoch: the revision at which this registration was created (0 before it is
    /// stored; the local store's is 0). Changes on every re-registration, so it fences a broker's
    /// requests from an earlier session.
    public var brokerEpoch: Int64
    /// Set by the broker when it starts a controlled shutdown (SIGTERM in cluster mode): the controller
    /// moves its leaderships away and elects it nowhere, while it still serves (Kafka's
    /// `inControlledShutdown`). The registration record is re-put under the same lease, so the broker
    /// epoch does not change.
    public var inControlledShutdown: Bool

    /// Creates a registration.
    public init(nodeId: Int32, listeners: [BrokerEndpoint], rack: String? = nil,
                incarnationId: String = KafkaUUID.random().description, brokerEpoch: Int64 = 0,
                inControlledShutdown: Bool = false) {
        self.nodeId = nodeId
        self.listeners = listeners
        self.rack = rack
        self.incarnationId = incarnationId
        self.brokerEpoch = brokerEpoch
        self.inControlledShutdown = inControlledShutdown
    }

    /// The host clients connect to (the first listener's).
    public var host: String { listeners.first?.host ?? "" }
    /// The port clients connect to (the first listener's).
    public var port: Int32 { listeners.first?.port ?? 0 }

    enum CodingKeys: String, CodingKey {
        case nodeId = "node_id", listeners, rack, incarnationId = "incarnation_id"
        case inControlledShutdown = "controlled_shutdown"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nodeId = try c.decode(Int32.self, forKey: .nodeId)
        listeners = try c.decode([BrokerEndpoint].self, forKey: .listeners)
        rack = try c.decodeIfPresent(String.self, forKey: .rack)
        incarnationId = try c.decodeIfPresent(String.self, forKey: .incarnationId) ?? ""
        brokerEpoch = 0
        inControlledShutdown = try c.decodeIfPresent(Bool.self, forKey: .inControlledShutdown) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nodeId, forKey: .nodeId)
        try c.encode(listeners, forKey: .listeners)
        try c.encodeIfPresent(rack, forKey: .rack)
        try c.encode(incarnationId, forKey: .incarnationId)
        // Written only when set, so the record of a serving broker stays what it always was.
        if inControlledShutdown { try c.encode(true, forKey: .inControlledShutdown) }
    }
}
