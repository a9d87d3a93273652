// Broker+Signals: run the broker until SIGTERM or SIGINT (a one-service ServiceGroup).
import Logging
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
}
