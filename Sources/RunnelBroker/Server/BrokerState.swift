// BrokerState: what the running broker exposes to others (bound addresses, readiness).
import NIOConcurrencyHelpers
import NIOCore

/// Observable broker state, shared by the broker, the `/ready` endpoint and tests.
public final class BrokerState: Sendable {
    private struct Values {
        var ready = false
        var failed = false
        var addresses: [SocketAddress] = []
        var waiters: [CheckedContinuation<[SocketAddress], Never>] = []
    }

    private let values = NIOLockedValueBox(Values())

    /// Creates a not-ready state.
    public init() {}

    /// True while listeners are bound and the broker is not shutting down.
    public var isReady: Bool { values.withLockedValue { $0.ready } }

    /// The bound address of each listener (empty before start).
    public var boundAddresses: [SocketAddress] { values.withLockedValue { $0.addresses } }

    /// Waits until the listeners are bound and returns their addresses (empty if startup failed).
    public func waitUntilReady() async -> [SocketAddress] {
        await withCheckedContinuation { continuation in
            let ready: [SocketAddress]? = values.withLockedValue { values in
                if values.ready || values.failed { return values.addresses }
                values.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func markReady(addresses: [SocketAddress]) {
        let waiters = values.withLockedValue { values in
            values.ready = true
            values.addresses = addresses
            defer { values.waiters.removeAll() }
            return values.waiters
        }
        for waiter in waiters { waiter.resume(returning: addresses) }
    }

    func markFailed() {
        let waiters = values.withLockedValue { values in
            values.failed = true
            defer { values.waiters.removeAll() }
            return values.waiters
        }
        for waiter in waiters { waiter.resume(returning: []) }
    }

    func markNotReady() {
        values.withLockedValue { $0.ready = false }
    }
}
