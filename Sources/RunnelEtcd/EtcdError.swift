// EtcdError: every way an etcd call can fail, naming the endpoint, the operation and etcd's own words.

/// A failed etcd call. `description` is one line an operator can act on, e.g.
/// `etcd txn /runnel/topics/orders at http://127.0.0.1:2379 failed: timed out after 5000 ms`.
public struct EtcdError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// No connection could be opened (refused, unreachable, connect timeout): the request was never sent.
        case unreachable(String)
        /// The call did not complete within its timeout; for a write the outcome is unknown.
        case timedOut(milliseconds: Int64)
        /// The connection broke after a write was sent: etcd may or may not have applied it.
        case outcomeUnknown(String)
        /// etcd answered with an error: its gRPC status code and message (e.g. 5, "requested lease not found").
        case server(code: Int, message: String)
        /// The gateway answered with an HTTP status that carries no etcd error body.
        case http(status: Int, body: String)
        /// etcd's answer could not be decoded.
        case malformedResponse(String)
        /// A watch asked for history etcd has compacted away; reload from the current revision.
        case compacted(compactRevision: Int64)
        /// The lease is gone on etcd's side (expired or revoked).
        case leaseNotFound(id: Int64)
        /// Every endpoint failed; each one's error, in the order tried.
        case allEndpointsFailed([EtcdError])
        /// The client was shut down.
        case shutdown
    }

    /// The endpoint the call went to (`http://host:port`), or the list tried.
    public var endpoint: String
    /// The operation and its key, e.g. `range /runnel/`.
    public var operation: String
    /// What went wrong.
    public var kind: Kind

    /// Creates an error.
    public init(endpoint: String, operation: String, kind: Kind) {
        self.endpoint = endpoint
        self.operation = operation
        self.kind = kind
    }

    /// True when etcd itself could not be reached or did not answer in time (as opposed to a refusal).
    public var isUnavailable: Bool {
        switch kind {
        case .unreachable, .timedOut, .outcomeUnknown, .shutdown: true
        case .server(let code, _): code == 14 || code == 4  // UNAVAILABLE, DEADLINE_EXCEEDED
        case .allEndpointsFailed(let errors): errors.allSatisfy(\.isUnavailable)
        case .http(let status, _): status >= 500
        case .malformedResponse, .compacted, .leaseNotFound: false
        }
    }

    public var description: String {
        "etcd \(operation) at \(endpoint) failed: \(kindDescription)"
    }

    private var kindDescription: String {
        switch kind {
        case .unreachable(let reason): "cannot connect (\(reason)); is etcd running there?"
        case .timedOut(let ms): "timed out after \(ms) ms"
        case .outcomeUnknown(let reason): "connection lost after the request was sent (\(reason)); the change may or may not be applied"
        case .server(let code, let message): "etcd answered \"\(message)\" (gRPC code \(code))"
        case .http(let status, let body): "HTTP \(status): \(body.prefix(200))"
        case .malformedResponse(let reason): "unreadable answer: \(reason)"
        case .compacted(let revision): "the requested history was compacted (compact revision \(revision)); reload"
        case .leaseNotFound(let id): "lease \(id) not found (expired or revoked)"
        case .allEndpointsFailed(let errors):
            "no endpoint answered: " + errors.map { "\($0.endpoint): \($0.kindDescription)" }.joined(separator: "; ")
        case .shutdown: "the client is shut down"
        }
    }
}
