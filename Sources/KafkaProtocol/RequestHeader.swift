// RequestHeader: the header in front of every request body (versions 0–2), and the cheap peek a
// router uses before decoding anything else.
import NIOCore

/// The fields a router needs from a request header, read from its first 8 bytes.
public struct RequestRouting: Sendable, Equatable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
    }

    /// Reads api key, api version and correlation id at the reader index without moving it.
    /// Works even if the rest of the frame is junk; nil only when fewer than 8 bytes are readable.
    public init?(peeking buffer: ByteBuffer) {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= 8,
              let apiKey = buffer.getInteger(at: start, endianness: .big, as: Int16.self),
              let apiVersion = buffer.getInteger(at: start + 2, endianness: .big, as: Int16.self),
              let correlationId = buffer.getInteger(at: start + 4, endianness: .big, as: Int32.self)
        else { return nil }
        self.init(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId)
    }
}

/// A request header. v0: api key, api version, correlation id; v1 adds the client id (a nullable
/// string that is never compact); v2 adds a tagged field section.
public struct RequestHeader: Sendable, Equatable {
    /// The API key as sent; kept raw so unknown keys still decode.
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// The client id (`client.id`), nil when sent as null or in header v0.
    public var clientId: String?
    public var unknownTaggedFields: [TaggedField]

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, clientId: String? = nil,
                unknownTaggedFields: [TaggedField] = []) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// The header version a request of `apiKey` at `apiVersion` uses: 2 for flexible versions,
    /// 0 for ControlledShutdown v0, 1 otherwise (also for unknown keys).
    public static func headerVersion(apiKey: Int16, apiVersion: Int16) -> Int16 {
        let key = ApiKey(rawValue: apiKey)
        if key == .controlledShutdown && apiVersion == 0 { return 0 }
        return key.isFlexible(version: apiVersion) ? 2 : 1
    }

    /// Decodes a header of the given version.
    public init(from buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaDecodingError) {
        guard headerVersion >= 0 && headerVersion <= 2 else {
            throw .unsupportedVersion(apiKey: -1, version: headerVersion)
        }
        apiKey = try buffer.readKafkaInteger(field: "RequestApiKey")
        apiVersion = try buffer.readKafkaInteger(field: "RequestApiVersion")
        correlationId = try buffer.readKafkaInteger(field: "CorrelationId")
        clientId = nil
        unknownTaggedFields = []
        if headerVersion >= 1 {
            clientId = try buffer.readKafkaNullableString(compact: false, field: "ClientId")
        }
        if headerVersion >= 2 {
            unknownTaggedFields = try buffer.readUnknownTaggedFields(field: "RequestHeader")
        }
    }

    /// Decodes a header, choosing its version from the api key and version it starts with.
    public init(from buffer: inout ByteBuffer) throws(KafkaDecodingError) {
        guard let routing = RequestRouting(peeking: buffer) else { throw .truncated(field: "RequestHeader") }
        let version = Self.headerVersion(apiKey: routing.apiKey, apiVersion: routing.apiVersion)
        try self.init(from: &buffer, headerVersion: version)
    }

    /// The header version this header's api key and version call for.
    public var headerVersion: Int16 { Self.headerVersion(apiKey: apiKey, apiVersion: apiVersion) }

    /// Encodes the header in `headerVersion` (by default the one its api key and version call for).
    public func encode(to buffer: inout ByteBuffer, headerVersion: Int16? = nil) {
        let version = headerVersion ?? self.headerVersion
        buffer.writeKafkaInteger(apiKey)
        buffer.writeKafkaInteger(apiVersion)
        buffer.writeKafkaInteger(correlationId)
        if version >= 1 {
            buffer.writeKafkaString(clientId, compact: false)
        }
        if version >= 2 {
            buffer.writeTaggedFields([], unknown: unknownTaggedFields)
        }
    }
}
