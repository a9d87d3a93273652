// Compression of a batch's records section: dispatch to the codec implementations, with bounded output.
import NIOCore

/// Compresses and decompresses the records section of a batch with Kafka's codecs.
///
/// Decompression is always bounded: output beyond `maxOutputBytes` stops the codec and throws
/// `.decompressedSizeExceeded`, so a small hostile batch cannot make the broker allocate without limit.
public enum RecordCompression {
    /// Compresses `input`'s readable bytes with `codec`, appending to `output`. `level` is the codec's own
    /// level (Kafka's `compression.gzip.level`, `compression.lz4.level`, `compression.zstd.level`); nil uses
    /// Kafka's default. Snappy is written in the xerial framing, as the Java client does.
    public static func compress(_ input: ByteBuffer, codec: CompressionCodec, level: Int32? = nil,
                                into output: inout ByteBuffer) throws(RecordBatchError) {
        switch codec {
        case .none:
            var input = input
            output.writeBuffer(&input)
        case .gzip: try GzipCodec.compress(input, level: level, into: &output)
        case .snappy: try SnappyCodec.compressXerial(input, into: &output)
        case .lz4: try LZ4Codec.compress(input, level: level, into: &output)
        case .zstd: try ZstdCodec.compress(input, level: level, into: &output)
        }
    }

    /// Decompresses `input` with `codec`; more than `maxOutputBytes` of output is `.decompressedSizeExceeded`,
    /// malformed input `.compressionFailed`. Gzip accepts multi-member streams; snappy accepts the xerial
    /// framing and a raw snappy block; lz4 reads the LZ4 frame format; zstd frames may lack a content size.
    public static func decompress(_ input: ByteBuffer, codec: CompressionCodec, maxOutputBytes: Int,
                                  allocator: ByteBufferAllocator = ByteBufferAllocator())
        throws(RecordBatchError) -> ByteBuffer {
        switch codec {
        case .none:
            guard input.readableBytes <= maxOutputBytes else {
                throw .decompressedSizeExceeded(codec: codec, limit: maxOutputBytes)
            }
            return input
        case .gzip:
            return try GzipCodec.decompress(input, maxOutputBytes: maxOutputBytes, allocator: allocator)
        case .snappy:
            return try SnappyCodec.decompress(input, maxOutputBytes: maxOutputBytes, allocator: allocator)
        case .lz4:
            return try LZ4Codec.decompress(input, maxOutputBytes: maxOutputBytes, allocator: allocator)
        case .zstd:
            return try ZstdCodec.decompress(input, maxOutputBytes: maxOutputBytes, allocator: allocator)
        }
    }
}

/// An output buffer that grows geometrically but never beyond `limit + 1` bytes: the extra byte lets a
/// streaming codec prove that the output would exceed the limit without decoding any further.
struct BoundedOutput {
    var buffer: ByteBuffer
    let limit: Int
    let codec: CompressionCodec

    init(codec: CompressionCodec, limit: Int, expectedSize: Int, allocator: ByteBufferAllocator) {
        self.codec = codec
        self.limit = Swift.max(limit, 0)
        buffer = allocator.buffer(capacity: Swift.min(self.limit + 1, Swift.max(expectedSize, 256)))
    }

    /// Bytes that may still be written (up to `limit + 1` in total); grows the buffer when it is full.
    mutating func prepareSpace() -> Int {
        let allowed = limit + 1 - buffer.readableBytes
        if buffer.writableBytes == 0, allowed > 0 {
            buffer.reserveCapacity(minimumWritableBytes: Swift.min(allowed, Swift.max(buffer.capacity, 4096)))
        }
        return Swift.min(allowed, buffer.writableBytes)
    }

    /// The error to report once more than `limit` bytes were produced, else nil.
    var limitError: RecordBatchError? {
        buffer.readableBytes > limit ? .decompressedSizeExceeded(codec: codec, limit: limit) : nil
    }

    /// Lets `body` write into the next `prepareSpace()` bytes; `body` returns how many it wrote.
    mutating func write(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let space = prepareSpace()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[0..<Swift.min(space, raw.count)]))
        }
    }
}
