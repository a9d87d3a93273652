// ServerError: the ways the network layer refuses a connection or request.
import NIOCore

/// Errors raised by the network layer; each closes the connection it concerns.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The size prefix is negative or smaller than a request header's fixed part.
    case invalidFrameSize(Int32)
    /// The size prefix exceeds `socket.request.max.bytes`.
    case frameTooLarge(size: Int32, limit: Int)
    /// A response's parts add up to more than a size prefix can express.
    case responseTooLarge(Int)
    /// No router accepts this request (the placeholder router, or an unknown API key).
    case unsupportedRequest(apiKey: Int16, apiVersion: Int16)
    /// `max.connections` or `max.connections.per.ip` is reached.
    case connectionLimitReached(String)
    /// A listener could not be bound.
    case bindFailed(listener: String, reason: String)

    public var description: String {
        switch self {
        case .invalidFrameSize(let size):
            return "invalid request size \(size) (must be at least \(KafkaRequestFrame.fixedHeaderSize))"
        case .frameTooLarge(let size, let limit):
            return "request size \(size) exceeds socket.request.max.bytes=\(limit)"
        case .responseTooLarge(let size):
            return "response of \(size) bytes exceeds the 2 GiB frame limit"
        case .unsupportedRequest(let apiKey, let apiVersion):
            return "no handler for api_key=\(apiKey) api_version=\(apiVersion)"
        case .connectionLimitReached(let which):
            return "connection refused: \(which) reached"
        case .bindFailed(let listener, let reason):
            return "cannot bind listener \(listener): \(reason)"
        }
    }
}
