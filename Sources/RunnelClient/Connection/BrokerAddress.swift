// A broker's host and port, parsed from `host:port` lists like `--brokers` and `bootstrap.servers`.
import Foundation

/// Where a broker listens.
public struct BrokerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`, `host` (port 9092) or `PLAINTEXT://host:port`.
    public init(parsing text: String) throws(KafkaClientError) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        guard !rest.isEmpty else { throw .invalidArgument("empty broker address in '\(text)'") }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidArgument("bad broker address '\(text)'") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 9092
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        } else {
            host = String(rest)
            port = 9092
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw .invalidArgument("bad broker address '\(text)' (expected host:port)")
        }
    }

    /// Parses a comma-separated list of addresses.
    public static func parseList(_ text: String) throws(KafkaClientError) -> [BrokerAddress] {
        var result: [BrokerAddress] = []
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            result.append(try BrokerAddress(parsing: String(part)))
        }
        guard !result.isEmpty else { throw .invalidArgument("no broker addresses in '\(text)'") }
        return result
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
