// Observability: one call that installs the process-wide logging and metrics backends.
import Logging
import Metrics
import Prometheus

/// Process-wide bootstrap of swift-log and swift-metrics (each may be done once per process).
public enum Observability {
    /// Installs `KeyValueLogHandler` at `logLevel` and a Prometheus metrics factory; returns the
    /// registry to serve on `metrics.listener` (pass it to `Broker`).
    public static func bootstrap(logLevel: Logger.Level) -> PrometheusCollectorRegistry {
        KeyValueLogHandler.bootstrap(level: logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}
