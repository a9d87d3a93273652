// KafkaDecodingError: the closed set of reasons a Kafka wire decoder rejects input.

/// Why bytes could not be decoded as a Kafka message. Decoders never trap: every malformed,
/// truncated or oversized input ends in one of these cases.
public enum KafkaDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer bytes were readable than `field` needs.
    case truncated(field: String)
    /// A declared length or element count is negative (other than the null marker) or larger than
    /// the bytes that are left.
    case invalidLength(field: String, length: Int64)
    /// A varint ran past 5 bytes (varint) or 10 bytes (varlong), or overflowed its type.
    case invalidVarint
    /// A string's bytes are not valid UTF-8.
    case invalidUTF8(field: String)
    /// A null was sent for a field that is not nullable in this version.
    case nullNotAllowed(field: String)
    /// The API key is unknown, or the version is outside the range this build implements.
    case unsupportedVersion(apiKey: Int16, version: Int16)

    public var description: String {
        switch self {
        case .truncated(let field):
            return "truncated input while reading \(field)"
        case .invalidLength(let field, let length):
            return "invalid length \(length) for \(field)"
        case .invalidVarint:
            return "malformed varint (too long or overflowing)"
        case .invalidUTF8(let field):
            return "\(field) is not valid UTF-8"
        case .nullNotAllowed(let field):
            return "\(field) is null but not nullable in this version"
        case .unsupportedVersion(let apiKey, let version):
            return "unsupported version \(version) of api key \(apiKey)"
        }
    }

    /// The Kafka error code a broker answers with for this failure: UNSUPPORTED_VERSION for an
    /// unknown key or version, INVALID_REQUEST (Kafka's answer to an unparseable request) otherwise.
    public var errorCode: ErrorCode {
        switch self {
        case .unsupportedVersion: return .unsupportedVersion
        default: return .invalidRequest
        }
    }
}
