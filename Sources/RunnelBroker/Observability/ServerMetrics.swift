// ServerMetrics: the network layer's metrics (connections, requests by API and version, bytes, latency).
import CoreMetrics
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Metrics recorded by the server pipeline, through swift-metrics (exported by whatever backend
/// the process bootstrapped; Prometheus in `runnel broker`).
///
/// Requests are labelled by API name as Kafka names it (`api="Produce"`) and version; series are
/// created the first time an API and version are seen (so `/metrics` lists only what clients use) and
/// cached in a table indexed by key and version: the request path costs one uncontended lock and two
/// array indexes.
public final class ServerMetrics: Sendable {
    /// API keys at or above this share one `api="other"` series.
    static let apiKeyLimit = 128
    /// Versions at or above this share one `version="other"` series.
    static let versionLimit = 32

    private struct PerAPI {
        var latency: Timer
        var requests: [Counter?]
    }

    private let factory: any MetricsFactory
    private let connections: Meter
    private let connectionsAccepted: Counter
    private let connectionsRejected: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let perAPI = NIOLockedValueBox<[PerAPI?]>(Array(repeating: nil, count: apiKeyLimit + 1))

    /// Creates the metrics with `factory` (by default the one the process bootstrapped).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        connections = Meter(label: "runnel_connections", factory: factory)
        connectionsAccepted = Counter(label: "runnel_connections_accepted_total", factory: factory)
        connectionsRejected = Counter(label: "runnel_connections_rejected_total", factory: factory)
        bytesIn = Counter(label: "runnel_network_bytes_in_total", factory: factory)
        bytesOut = Counter(label: "runnel_network_bytes_out_total", factory: factory)
    }

    /// The `api` label of a key: Kafka's API name, or `other` for keys this build does not know.
    static func apiLabel(_ apiKey: Int16) -> String {
        let key = ApiKey(rawValue: apiKey)
        return apiKey >= 0 && Int(apiKey) < apiKeyLimit && key.isKnown ? key.name : "other"
    }

    private static func slot(_ apiKey: Int16) -> Int {
        apiKey >= 0 && Int(apiKey) < apiKeyLimit && ApiKey(rawValue: apiKey).isKnown ? Int(apiKey) : apiKeyLimit
    }

    /// Runs `body` on the API's series, creating them on first use.
    private func withSeries<T>(_ apiKey: Int16, _ body: (inout PerAPI) -> T) -> T {
        let slot = Self.slot(apiKey)
        return perAPI.withLockedValue { table in
            var series = table[slot] ?? PerAPI(
                latency: Timer(label: "runnel_request_latency_seconds", dimensions: [("api", Self.apiLabel(apiKey))],
                               factory: factory),
                requests: Array(repeating: nil, count: Self.versionLimit + 1))
            let result = body(&series)
            table[slot] = series
            return result
        }
    }

    func connectionOpened() {
        connections.increment()
        connectionsAccepted.increment()
    }

    func connectionClosed() { connections.decrement() }

    func connectionRejected() { connectionsRejected.increment() }

    func requestReceived(apiKey: Int16, apiVersion: Int16, bytes: Int) {
        let versionSlot = apiVersion >= 0 && Int(apiVersion) < Self.versionLimit ? Int(apiVersion) : Self.versionLimit
        let counter = withSeries(apiKey) { series in
            if let existing = series.requests[versionSlot] { return existing }
            let version = versionSlot == Self.versionLimit ? "other" : "\(versionSlot)"
            let created = Counter(label: "runnel_requests_total",
                                  dimensions: [("api", Self.apiLabel(apiKey)), ("version", version)], factory: factory)
            series.requests[versionSlot] = created
            return created
        }
        counter.increment()
        bytesIn.increment(by: bytes)
    }

    func requestCompleted(apiKey: Int16, since start: NIODeadline) {
        let timer = withSeries(apiKey) { $0.latency }
        timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func bytesSent(_ count: Int) { bytesOut.increment(by: count) }
}
