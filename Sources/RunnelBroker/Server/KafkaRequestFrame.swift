// KafkaRequestFrame: one whole Kafka request as cut from the socket by `KafkaFrameHandler`.
import NIOCore

/// One complete Kafka request, as received: the fixed routing fields read from the first 8 bytes
/// of the request header, and the whole frame (request header included, size prefix excluded).
///
/// The first 8 bytes of every request header are the same in all header versions
/// (`int16 api_key`, `int16 api_version`, `int32 correlation_id`), so the server can route and
/// order requests without the protocol codecs; the router decodes the rest of `buffer`.
public struct KafkaRequestFrame: Sendable, Equatable {
    /// The request's API key (0 = Produce, 1 = Fetch, 18 = ApiVersions, …).
    public var apiKey: Int16
    /// The version of that API the client speaks for this request.
    public var apiVersion: Int16
    /// The client's correlation id; the response must carry it back.
    public var correlationId: Int32
    /// The whole request frame starting at `api_key` (a slice of the socket buffer, no copy).
    public var buffer: ByteBuffer

    /// Creates a frame from its routing fields and bytes.
    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, buffer: ByteBuffer) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.buffer = buffer
    }

    /// The size of the fixed prefix every request header starts with.
    public static let fixedHeaderSize = 8
}
