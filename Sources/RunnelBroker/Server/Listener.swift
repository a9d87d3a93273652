// Listener: one `listeners` / `advertised.listeners` entry, `NAME://host:port`.

/// A listener endpoint as Kafka writes it: `PLAINTEXT://127.0.0.1:9092`, `PLAINTEXT://:9092`
/// (all interfaces), `PLAINTEXT://[::1]:9092`.
public struct Listener: Sendable, Hashable, CustomStringConvertible {
    /// The listener name (also its security protocol unless `listener.security.protocol.map` says otherwise).
    public var name: String
    /// The host to bind or advertise; empty means all interfaces.
    public var host: String
    /// The TCP port; 0 binds an ephemeral port.
    public var port: Int

    /// Creates a listener.
    public init(name: String, host: String, port: Int) {
        self.name = name
        self.host = host
        self.port = port
    }

    /// Parses one `NAME://host:port` entry, or returns nil with no partial result.
    public init?(parsing text: String) {
        let trimmed = text.trimmingWhitespace()
        guard let separator = trimmed.firstRange(of: "://") else { return nil }
        let name = String(trimmed[..<separator.lowerBound])
        let endpoint = trimmed[separator.upperBound...]
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }),
            let colon = endpoint.lastIndex(of: ":"),
            let port = Int(endpoint[endpoint.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(name: name, host: host, port: port)
    }

    /// Parses a comma-separated list of listeners; nil if any entry is malformed.
    public static func parseList(_ entries: [String]) -> [Listener]? {
        var result: [Listener] = []
        for entry in entries where !entry.trimmingWhitespace().isEmpty {
            guard let listener = Listener(parsing: entry) else { return nil }
            result.append(listener)
        }
        return result
    }

    /// The host to bind to (`0.0.0.0` for an empty host).
    public var bindHost: String { host.isEmpty ? "0.0.0.0" : host }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(name)://\(shownHost):\(port)"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
