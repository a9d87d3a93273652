// ServerMetrics: the network layer's metrics (connections, requests by API key, bytes, latency).
import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

/// Metrics recorded by the server pipeline, through swift-metrics (exported by whatever backend
/// the process bootstrapped; Prometheus in `runnel broker`).
///
/// Per-API-key series are created the first time a key is seen (so `/metrics` lists only the APIs
/// clients use) and cached; the request path then costs one uncontended lock and an array index.
public final class ServerMetrics: Sendable {
    /// API keys at or above this share one `api_key="other"` series.
    static let apiKeyLimit = 128

    private struct PerAPIKey {
        var requests: Counter
        var latency: Timer
    }

    private let factory: any MetricsFactory
    private let connections: Meter
    private let connectionsAccepted: Counter
    private let connectionsRejected: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let perAPIKey = NIOLockedValueBox<[PerAPIKey?]>(Array(repeating: nil, count: apiKeyLimit + 1))

    /// Creates the metrics with `factory` (by default the one the process bootstrapped).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        connections = Meter(label: "runnel_connections", factory: factory)
        connectionsAccepted = Counter(label: "runnel_connections_accepted_total", factory: factory)
        connectionsRejected = Counter(label: "runnel_connections_rejected_total", factory: factory)
        bytesIn = Counter(label: "runnel_network_bytes_in_total", factory: factory)
        bytesOut = Counter(label: "runnel_network_bytes_out_total", factory: factory)
    }

    private func series(_ apiKey: Int16) -> PerAPIKey {
        let slot = apiKey >= 0 && Int(apiKey) < Self.apiKeyLimit ? Int(apiKey) : Self.apiKeyLimit
        return perAPIKey.withLockedValue { table in
            if let existing = table[slot] { return existing }
            let value = slot == Self.apiKeyLimit ? "other" : "\(slot)"
            let created = PerAPIKey(
                requests: Counter(label: "runnel_requests_total", dimensions: [("api_key", value)], factory: factory),
                latency: Timer(label: "runnel_request_latency_seconds", dimensions: [("api_key", value)], factory: factory))
            table[slot] = created
            return created
        }
    }

    func connectionOpened() {
        connections.increment()
        connectionsAccepted.increment()
    }

    func connectionClosed() { connections.decrement() }

    func connectionRejected() { connectionsRejected.increment() }

    func requestReceived(apiKey: Int16, bytes: Int) {
        series(apiKey).requests.increment()
        bytesIn.increment(by: bytes)
    }

    func requestCompleted(apiKey: Int16, since start: NIODeadline) {
        series(apiKey).latency.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func bytesSent(_ count: Int) { bytesOut.increment(by: count) }
}
