// The protocols every generated message conforms to.
import NIOCore

/// A Kafka message body (request, response or data record) that can be decoded from and encoded to
/// any of its valid versions. Header and size prefix are not part of it.
public protocol KafkaMessage: Sendable, Equatable {
    /// Decodes the body in `version`; fails with a typed error on any malformed input.
    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaDecodingError)
    /// Encodes the body in `version`; fails if a value cannot be represented in that version.
    func encode(to buffer: inout ByteBuffer, version: Int16) throws(KafkaEncodingError)
}

/// A request body, tied to its API key and its response type.
public protocol KafkaRequestMessage: KafkaMessage {
    associatedtype Response: KafkaResponseMessage
    /// The API key this request is sent with.
    static var apiKey: ApiKey { get }
}

/// A response body, tied to its API key.
public protocol KafkaResponseMessage: KafkaMessage {
    /// The API key of the request this answers.
    static var apiKey: ApiKey { get }
}
