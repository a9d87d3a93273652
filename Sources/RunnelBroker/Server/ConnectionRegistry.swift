// ConnectionRegistry: the broker's open connections, `max.connections`, `max.connections.per.ip` and its overrides.
import NIOConcurrencyHelpers
import NIOCore

/// Tracks open connections so limits can be enforced and shutdown can drain them.
///
/// Kafka blocks its acceptor at `max.connections`; Runnel accepts and closes the connection at
/// once instead (the client sees a closed socket and retries with backoff), which needs no
/// coordination with the accept loop.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: (channel: any Channel, ip: String)] = [:]
        var perAddress: [String: Int] = [:]
        var nextIndex: UInt64 = 0
    }

    let maxConnections: Int
    let maxConnectionsPerIP: Int
    /// `max.connections.per.ip.overrides`: the limit for these addresses instead of `maxConnectionsPerIP`.
    let overrides: [String: Int]
    private let state = NIOLockedValueBox(State())

    init(maxConnections: Int, maxConnectionsPerIP: Int, overrides: [String: Int] = [:]) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.overrides = overrides
    }

    /// Registers `channel` and returns its connection index, or throws when a limit is reached.
    func register(_ channel: any Channel) throws(ServerError) -> UInt64 {
        let ip = channel.remoteAddress?.ipAddress ?? "unknown"
        let result = state.withLockedValue { state -> Result<UInt64, ServerError> in
            guard state.channels.count < maxConnections else {
                return .failure(.connectionLimitReached("max.connections=\(maxConnections)"))
            }
            let fromAddress = state.perAddress[ip, default: 0]
            let limit = overrides[ip] ?? maxConnectionsPerIP
            guard fromAddress < limit else {
                let setting = overrides[ip] == nil ? "max.connections.per.ip" : "max.connections.per.ip.overrides"
                return .failure(.connectionLimitReached("\(setting)=\(limit) for \(ip)"))
            }
            state.channels[ObjectIdentifier(channel)] = (channel, ip)
            state.perAddress[ip] = fromAddress + 1
            state.nextIndex += 1
            return .success(state.nextIndex)
        }
        return try result.get()
    }

    /// Forgets `channel` (on close).
    func unregister(_ channel: any Channel) {
        state.withLockedValue { state in
            guard let (_, ip) = state.channels.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            let remaining = state.perAddress[ip, default: 1] - 1
            state.perAddress[ip] = remaining > 0 ? remaining : nil
        }
    }

    /// The number of open connections.
    var count: Int { state.withLockedValue { $0.channels.count } }

    /// The open connections.
    var channels: [any Channel] { state.withLockedValue { $0.channels.values.map(\.channel) } }
}
