// SizePrefixedFrameAccumulator: cuts a byte stream into Kafka's `int32 size` + body frames with at
// most one copy per byte: frames inside one read are slices of it, frames that span reads are
// gathered into one buffer of their own, reserved once (no regrowth, no compaction moves).
import NIOCore

/// Why a size prefix was refused. The connection carrying it cannot be resynchronised and is closed.
public enum FrameSizeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The prefix is negative or smaller than the smallest frame the protocol allows.
    case tooSmall(size: Int32, minimum: Int)
    /// The prefix exceeds the configured limit (`socket.request.max.bytes` on a broker).
    case tooLarge(size: Int32, limit: Int)

    public var description: String {
        switch self {
        case .tooSmall(let size, let minimum): "frame size \(size) is below the minimum of \(minimum) bytes"
        case .tooLarge(let size, let limit): "frame size \(size) exceeds the limit of \(limit) bytes"
        }
    }
}

/// Incremental framing for Kafka connections (requests on a broker, responses on a client).
///
/// `ByteToMessageDecoder` keeps one cumulation buffer and compacts it after every frame; for
/// megabyte frames arriving in 64 KiB reads that means regrowing (fresh pages each time) and a
/// copy-on-write of the tail whenever a frame slice is still referenced. This accumulator copies a
/// spanning frame's bytes exactly once into a buffer sized from the prefix, and hands out frames
/// that fit in one read as zero-copy slices.
///
/// Memory: the prefix is checked against `maxFrameSize` before anything is reserved, and a
/// frame's buffer is reserved only up to `eagerReserveLimit` ahead of the bytes that actually
/// arrived, so a lying prefix on a silent connection does not pin its whole claimed size.
public struct SizePrefixedFrameAccumulator: Sendable {
    /// Frames larger than this are refused (`FrameSizeError.tooLarge`); may be changed between feeds
    /// (a SASL listener allows only small frames before authentication).
    public var maxFrameSize: Int
    /// Frames smaller than this are refused (`FrameSizeError.tooSmall`).
    public let minFrameSize: Int
    /// How far ahead of the received bytes a spanning frame's buffer may be reserved.
    public let eagerReserveLimit: Int

    private var prefix: UInt32 = 0
    private var prefixBytes = 0
    private var partial: ByteBuffer?
    private var expected = 0

    /// Creates an accumulator for frames of `minFrameSize...maxFrameSize` bytes (prefix excluded).
    public init(maxFrameSize: Int, minFrameSize: Int = 0, eagerReserveLimit: Int = 8 << 20) {
        self.maxFrameSize = maxFrameSize
        self.minFrameSize = max(0, minFrameSize)
        self.eagerReserveLimit = max(1 << 16, eagerReserveLimit)
    }

    /// Bytes held for a frame that is not complete yet (prefix bytes included).
    public var bufferedBytes: Int { (partial?.readableBytes ?? 0) + prefixBytes }

    /// Bytes the incomplete frame still lacks (0 when no frame body is in progress): the stream will
    /// carry at least this many more bytes before the next frame can be handed out.
    public var missingBytes: Int { partial.map { expected - $0.readableBytes } ?? 0 }

    /// Consumes all of `buffer`, calling `onFrame` with each complete frame body (prefix excluded),
    /// in order. Throws on a refused prefix; the accumulator is then unusable for this stream.
    public mutating func feed(
        _ buffer: inout ByteBuffer, allocator: ByteBufferAllocator, onFrame: (ByteBuffer) -> Void
    ) throws(FrameSizeError) {
        while buffer.readableBytes > 0 {
            if var frame = partial {
                partial = nil  // sole owner while writing: no copy-on-write
                let take = min(expected - frame.readableBytes, buffer.readableBytes)
                let needed = frame.readableBytes + take
                if frame.capacity < needed {
                    frame.reserveCapacity(min(expected, max(needed, min(frame.capacity * 2, needed + eagerReserveLimit))))
                }
                if let chunk = buffer.readSlice(length: take) { frame.writeImmutableBuffer(chunk) }
                if frame.readableBytes == expected {
                    onFrame(frame)
                } else {
                    partial = frame
                }
                continue
            }
            let size: Int32
            if prefixBytes == 0, let whole = buffer.readInteger(as: Int32.self) {
                size = whole
            } else {
                while prefixBytes < 4, let byte = buffer.readInteger(as: UInt8.self) {
                    prefix = prefix << 8 | UInt32(byte)
                    prefixBytes += 1
                }
                guard prefixBytes == 4 else { return }
                size = Int32(bitPattern: prefix)
                prefix = 0
                prefixBytes = 0
            }
            guard size >= 0, Int(size) >= minFrameSize else { throw .tooSmall(size: size, minimum: minFrameSize) }
            guard Int(size) <= maxFrameSize else { throw .tooLarge(size: size, limit: maxFrameSize) }
            let length = Int(size)
            if buffer.readableBytes >= length, let frame = buffer.readSlice(length: length) {
                onFrame(frame)
                continue
            }
            var frame = allocator.buffer(capacity: min(length, buffer.readableBytes + eagerReserveLimit))
            frame.writeBuffer(&buffer)
            expected = length
            partial = frame
        }
    }
}
