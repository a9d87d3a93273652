// ResponsePayload: what a router answers with; the server adds the size prefix and writes it.
import NIOCore

/// The bytes of one response, without the 4-byte size prefix (the server computes it over all parts).
public enum ResponsePayload: Sendable {
    /// No response is written (Produce with `acks=0`); later responses still leave in order.
    case none
    /// The response header and body as parts written in order: buffers and file regions
    /// (file regions are sent with `sendfile` on plain-text connections).
    case parts([ResponsePart])

    /// A response made of one buffer.
    public static func buffer(_ buffer: ByteBuffer) -> ResponsePayload { .parts([.buffer(buffer)]) }

    /// The number of bytes the parts add up to (the value of the size prefix).
    public var byteCount: Int {
        switch self {
        case .none: return 0
        case .parts(let parts): return parts.reduce(0) { $0 + $1.byteCount }
        }
    }
}

/// One piece of a response.
///
/// A `file` part references a segment's `NIOFileHandle`: the server never closes it. Its lease
/// keeps the descriptor open until the write completed or the connection closed.
public enum ResponsePart: Sendable {
    /// Bytes in memory (e.g. the encoded response header and body).
    case buffer(ByteBuffer)
    /// A range of a file, written with zero copy. `lease` keeps the file's descriptor open until the
    /// write completed or failed; the server holds it that long and then releases it.
    case file(FileRegion, lease: (any Sendable & AnyObject)?)

    /// The number of bytes this part contributes.
    public var byteCount: Int {
        switch self {
        case .buffer(let buffer): return buffer.readableBytes
        case .file(let region, _): return region.readableBytes
        }
    }

    var ioData: IOData {
        switch self {
        case .buffer(let buffer): return .byteBuffer(buffer)
        case .file(let region, _): return .fileRegion(region)
        }
    }
}
