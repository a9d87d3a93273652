// ResponseHeader: the header in front of every response body (versions 0–1).
import NIOCore

/// A response header. v0: correlation id; v1 adds a tagged field section. ApiVersions responses
/// always use v0 so that a client of any version can read them.
public struct ResponseHeader: Sendable, Equatable {
    public var correlationId: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(correlationId: Int32, unknownTaggedFields: [TaggedField] = []) {
        self.correlationId = correlationId
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// The header version of a response to `apiKey` at `apiVersion`: 1 for flexible versions,
    /// except ApiVersions (always 0); 0 otherwise.
    public static func headerVersion(apiKey: Int16, apiVersion: Int16) -> Int16 {
        let key = ApiKey(rawValue: apiKey)
        if key == .apiVersions { return 0 }
        return key.isFlexible(version: apiVersion) ? 1 : 0
    }

    /// Decodes a header of the given version.
    public init(from buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaDecodingError) {
        guard headerVersion >= 0 && headerVersion <= 1 else {
            throw .unsupportedVersion(apiKey: -1, version: headerVersion)
        }
        correlationId = try buffer.readKafkaInteger(field: "CorrelationId")
        unknownTaggedFields = []
        if headerVersion >= 1 {
            unknownTaggedFields = try buffer.readUnknownTaggedFields(field: "ResponseHeader")
        }
    }

    /// Encodes the header in `headerVersion`.
    public func encode(to buffer: inout ByteBuffer, headerVersion: Int16) {
        buffer.writeKafkaInteger(correlationId)
        if headerVersion >= 1 {
            buffer.writeTaggedFields([], unknown: unknownTaggedFields)
        }
    }
}
