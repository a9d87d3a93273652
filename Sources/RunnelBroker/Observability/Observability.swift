// Observability: one call that installs the process-wide logging and metrics backends.
import Logging
import Metrics
import Prometheus

/// Process-wide bootstrap of swift-log and swift-metrics (each may be done once per process).
public enum Observability {
    /// Installs `KeyValueLogHandler` at `logLevel` in `logFormat` and a Prometheus metrics factory; returns the
    /// registry to serve on `metrics.listener` (pass it to `Broker`).
    public static func bootstrap(logLevel: Logger.Level, logFormat: LogFormat = .text) -> PrometheusCollectorRegistry {
        KeyValueLogHandler.bootstrap(level: logLevel, format: logFormat)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(metricsFactory(registry: registry))
        return registry
    }

    /// As `bootstrap(logLevel:logFormat:)` when `metrics.listener` is set; without it nothing can read
    /// metrics, so swift-metrics keeps its no-op backend (every counter and timer on the hot paths is a
    /// no-op) and the answer is nil.
    public static func bootstrap(logLevel: Logger.Level, logFormat: LogFormat, metrics: Bool) -> PrometheusCollectorRegistry? {
        guard metrics else {
            KeyValueLogHandler.bootstrap(level: logLevel, format: logFormat)
            return nil
        }
        return bootstrap(logLevel: logLevel, logFormat: logFormat)
    }

    /// A Prometheus factory with buckets that fit a broker: request latencies and fsyncs are often
    /// well under the default first bucket (5 ms); group-commit sizes are counts, from 1 up.
    public static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        return factory
    }
}
