// Broker+Signals: run the broker until SIGTERM or SIGINT (a one-service ServiceGroup).
import Logging
import Prometheus
import ServiceLifecycle

extension Broker {
    /// Runs the broker until SIGTERM or SIGINT, then shuts it down gracefully and returns.
    public func runUntilTerminated(logger: Logger = Logger(label: "runnel.broker")) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: self)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// Opens the broker (`open`) and runs it until SIGTERM or SIGINT. The signal handlers are in place
    /// before the metadata store registers this broker in etcd, so a signal during startup (log recovery
    /// can take a while) ends in the same graceful shutdown — leaderships moved, the registration
    /// revoked — once the broker is open, instead of killing a registered broker whose lease then
    /// lingers for `etcd.lease.ttl.ms`.
    /// - Throws: `BrokerOpenError` when the broker cannot be opened; otherwise what `run` throws.
    public static func openAndRunUntilTerminated(config: BrokerConfig, logger: Logger = Logger(label: "runnel.broker"),
                                                 metricsRegistry: PrometheusCollectorRegistry? = nil) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: OpeningBroker(config: config, logger: logger, metricsRegistry: metricsRegistry))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// The broker could not be opened (metadata store, storage, configuration); the cause is inside.
public struct BrokerOpenError: Error, CustomStringConvertible {
    public let underlying: any Error
    public var description: String { "\(underlying)" }
}

/// Opens the broker inside the service group, then runs it (a shutdown requested meanwhile is seen by
/// `run`'s wait for graceful shutdown, which then returns at once).
private struct OpeningBroker: Service {
    let config: BrokerConfig
    let logger: Logger
    let metricsRegistry: PrometheusCollectorRegistry?

    func run() async throws {
        let broker: Broker
        do {
            broker = try await Broker.open(config: config, logger: logger, metricsRegistry: metricsRegistry)
        } catch {
            throw BrokerOpenError(underlying: error)
        }
        try await broker.run()
    }
}
