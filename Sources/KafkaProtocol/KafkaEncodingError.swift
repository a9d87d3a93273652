// KafkaEncodingError: why a message value cannot be written in a given version.

/// A message value cannot be represented in the requested version, e.g. a non-ignorable field that
/// the version lacks holds a non-default value, or a version outside the message's valid range.
public struct KafkaEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The schema name of the message or struct being written.
    public var message: String
    /// The schema name of the offending field, or "" for the message as a whole.
    public var field: String
    /// The version that was asked for.
    public var version: Int16
    /// What is wrong, in one sentence.
    public var reason: String

    public init(message: String, field: String, version: Int16, reason: String) {
        self.message = message
        self.field = field
        self.version = version
        self.reason = reason
    }

    public var description: String {
        let target = field.isEmpty ? message : "\(message).\(field)"
        return "cannot encode \(target) at version \(version): \(reason)"
    }

    static func fieldNotInVersion(_ message: String, _ field: String, _ version: Int16) -> KafkaEncodingError {
        KafkaEncodingError(message: message, field: field, version: version,
                           reason: "the field holds a non-default value but does not exist in this version")
    }

    static func nullNotAllowed(_ message: String, _ field: String, _ version: Int16) -> KafkaEncodingError {
        KafkaEncodingError(message: message, field: field, version: version,
                           reason: "the field is null but not nullable in this version")
    }

    static func unsupportedVersion(_ message: String, _ version: Int16) -> KafkaEncodingError {
        KafkaEncodingError(message: message, field: "", version: version, reason: "version is not valid")
    }
}
