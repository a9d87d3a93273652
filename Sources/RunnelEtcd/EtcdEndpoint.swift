// EtcdEndpoint and EtcdClientConfiguration: where etcd's HTTP gateway listens and how patient to be.
import Foundation

/// One etcd member's client URL (`http://host:port`). TLS endpoints are not supported.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port of the client URL (etcd's default is 2379).
    public var port: Int

    /// Creates an endpoint.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `http://host:port`, `host:port` or `[v6]:port`; nil for anything else (https included).
    public init?(parsing text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
        if rest.contains("://") { return nil }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}

/// How an `EtcdClient` reaches etcd.
public struct EtcdClientConfiguration: Sendable {
    /// The cluster's members; calls go to the last one that answered and fail over to the others.
    public var endpoints: [EtcdEndpoint]
    /// Longest a unary call (range, put, txn, lease calls) may take on one endpoint, connect included.
    public var requestTimeout: Duration
    /// Longest a connection attempt may take.
    public var connectTimeout: Duration
    /// Largest response body accepted (a range over many keys can be large).
    public var maxResponseBytes: Int

    /// Creates a configuration.
    public init(endpoints: [EtcdEndpoint], requestTimeout: Duration = .seconds(5),
                connectTimeout: Duration = .seconds(1), maxResponseBytes: Int = 64 << 20) {
        self.endpoints = endpoints
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
