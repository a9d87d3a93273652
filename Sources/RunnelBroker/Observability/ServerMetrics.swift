// ServerMetrics: the network layer's metrics (connections, requests by API key, bytes, latency).
import CoreMetrics
import NIOCore

/// Metrics recorded by the server pipeline, through swift-metrics (exported by whatever backend
/// the process bootstrapped; Prometheus in `runnel broker`).
///
/// Per-API-key metrics are created once up front so the request path does no factory lookups.
public final class ServerMetrics: Sendable {
    /// API keys at or above this share one `api_key="other"` series.
    static let apiKeyLimit = 128

    private let connections: Meter
    private let connectionsAccepted: Counter
    private let connectionsRejected: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let requests: [Counter]
    private let latencies: [Timer]

    /// Creates the metrics (registering them with the bootstrapped factory).
    public init() {
        connections = Meter(label: "runnel_connections")
        connectionsAccepted = Counter(label: "runnel_connections_accepted_total")
        connectionsRejected = Counter(label: "runnel_connections_rejected_total")
        bytesIn = Counter(label: "runnel_network_bytes_in_total")
        bytesOut = Counter(label: "runnel_network_bytes_out_total")
        var requests: [Counter] = []
        var latencies: [Timer] = []
        for key in 0...Self.apiKeyLimit {
            let value = key == Self.apiKeyLimit ? "other" : "\(key)"
            requests.append(Counter(label: "runnel_requests_total", dimensions: [("api_key", value)]))
            latencies.append(Timer(label: "runnel_request_latency_seconds", dimensions: [("api_key", value)]))
        }
        self.requests = requests
        self.latencies = latencies
    }

    private static func slot(_ apiKey: Int16) -> Int {
        apiKey >= 0 && Int(apiKey) < apiKeyLimit ? Int(apiKey) : apiKeyLimit
    }

    func connectionOpened() {
        connections.increment()
        connectionsAccepted.increment()
    }

    func connectionClosed() { connections.decrement() }

    func connectionRejected() { connectionsRejected.increment() }

    func requestReceived(apiKey: Int16, bytes: Int) {
        requests[Self.slot(apiKey)].increment()
        bytesIn.increment(by: bytes)
    }

    func requestCompleted(apiKey: Int16, since start: NIODeadline) {
        latencies[Self.slot(apiKey)].recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func bytesSent(_ count: Int) { bytesOut.increment(by: count) }
}
