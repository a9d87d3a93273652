// The errors the client reports: connection failures, broker error codes with context, protocol problems.
import KafkaProtocol

/// Everything that can go wrong talking to a Kafka-compatible broker, with the context a user needs.
public enum KafkaClientError: Error, Sendable, CustomStringConvertible {
    /// No broker could be reached at `address` (refused, unresolvable, timed out).
    case connectionFailed(address: String, reason: String)
    /// The connection closed while requests were in flight.
    case connectionClosed(address: String)
    /// No answer within the request timeout.
    case requestTimedOut(address: String, api: String, timeoutMilliseconds: Int64)
    /// The broker does not implement any version of `api` this client speaks.
    case unsupportedApi(address: String, api: String)
    /// A broker returned a Kafka error code; `context` says for what (topic, partition, group...).
    case broker(code: ErrorCode, context: String, message: String?)
    /// The bytes received could not be decoded.
    case protocolError(String)
    /// The request could not be encoded in the negotiated version.
    case encodingFailed(String)
    /// A topic is not known to the cluster.
    case unknownTopic(String)
    /// The partition does not exist or has no leader.
    case partitionUnavailable(topic: String, partition: Int32)
    /// A caller mistake (bad argument or configuration).
    case invalidArgument(String)
    /// The client was closed.
    case closed
    /// A delivery failed after all retries; `cause` is the last error.
    case deliveryFailed(topic: String, partition: Int32, cause: String)

    public var description: String {
        switch self {
        case .connectionFailed(let address, let reason): "cannot connect to \(address): \(reason)"
        case .connectionClosed(let address): "connection to \(address) closed"
        case .requestTimedOut(let address, let api, let timeout):
            "\(api) request to \(address) timed out after \(timeout) ms"
        case .unsupportedApi(let address, let api): "broker \(address) does not support \(api)"
        case .broker(let code, let context, let message):
            "\(context): \(code.name)" + (message.map { $0.isEmpty ? "" : " (\($0))" } ?? " (\(code.message))")
        case .protocolError(let message): "protocol error: \(message)"
        case .encodingFailed(let message): "cannot encode request: \(message)"
        case .unknownTopic(let topic): "unknown topic '\(topic)'"
        case .partitionUnavailable(let topic, let partition): "partition \(topic)-\(partition) is not available"
        case .invalidArgument(let message): message
        case .closed: "client is closed"
        case .deliveryFailed(let topic, let partition, let cause): "delivery to \(topic)-\(partition) failed: \(cause)"
        }
    }

    /// The Kafka error code, when the broker sent one.
    public var errorCode: ErrorCode? {
        if case .broker(let code, _, _) = self { return code }
        return nil
    }

    /// True when retrying (after a metadata refresh or a backoff) may succeed.
    public var isRetriable: Bool {
        switch self {
        case .broker(let code, _, _): code.isRetriable
        case .connectionFailed, .connectionClosed, .requestTimedOut, .partitionUnavailable: true
        default: false
        }
    }

    /// Throws `.broker` when `code` is an error.
    static func check(_ code: Int16, _ context: @autoclosure () -> String, message: String? = nil) throws {
        guard code != 0 else { return }
        throw KafkaClientError.broker(code: ErrorCode(rawValue: code), context: context(), message: message)
    }
}
