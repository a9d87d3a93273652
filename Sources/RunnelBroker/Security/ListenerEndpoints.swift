// ListenerEndpoints: brokers' addresses as seen from one listener (Metadata, DescribeCluster and
// FindCoordinator answer with the endpoint of the listener the request came in on, as Kafka does),
// and the inter-broker link (`inter.broker.listener.name`).
import KafkaProtocol
import NIOCore
import RunnelClient
import RunnelCluster

extension BrokerRegistration {
    /// The endpoint of the listener named `listener`; nil when this broker has no such listener (it is
    /// then left out of answers on that listener, as Kafka does). A registration with a single
    /// endpoint (a single node, or a test) answers with it whatever the name.
    func endpoint(forListener listener: String) -> BrokerEndpoint? {
        listeners.first { $0.name == listener } ?? (listeners.count == 1 ? listeners.first : nil)
    }
}

extension BrokerCore {
    /// Points a FindCoordinator answer's coordinators at their endpoint on `listener`.
    func onListener(_ response: FindCoordinatorResponse, _ request: HandlerRequest) -> FindCoordinatorResponse {
        let image = metadataStore.image
        let listener = request.context.listenerName
        var response = response
        if response.errorCode == 0, let endpoint = image.brokers[response.nodeId]?.endpoint(forListener: listener) {
            response.host = endpoint.host
            response.port = endpoint.port
        }
        for index in response.coordinators.indices where response.coordinators[index].errorCode == 0 {
            if let endpoint = image.brokers[response.coordinators[index].nodeId]?.endpoint(forListener: listener) {
                response.coordinators[index].host = endpoint.host
                response.coordinators[index].port = endpoint.port
            }
        }
        return response
    }
}

/// How brokers reach each other: the endpoint of `inter.broker.listener.name` and the client security
/// that listener needs.
struct InterBrokerLink: Sendable {
    /// The listener name; nil means each broker's first listener.
    var listener: String?
    /// TLS/SASL for connections to that listener.
    var security: ClientSecurity?

    init(listener: String? = nil, security: ClientSecurity? = nil) {
        self.listener = listener
        self.security = security
    }

    /// From the configuration (the security is checked again, with errors, when the broker starts).
    init(_ config: BrokerConfig) {
        listener = config.interBrokerListener
        security = try? config.interBrokerClientSecurity()
    }

    /// A broker's inter-broker endpoint.
    func address(of registration: BrokerRegistration) -> BrokerAddress? {
        let endpoint = listener.flatMap { registration.endpoint(forListener: $0) } ?? registration.listeners.first
        return endpoint.map { BrokerAddress(host: $0.host, port: Int($0.port)) }
    }

    /// Adds the link's security to a connection configuration.
    func apply(_ configuration: inout ConnectionConfiguration) {
        configuration.security = security
    }
}
