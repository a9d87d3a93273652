// Compression of a batch's records section: dispatch to the codec implementations, with bounded output.
import NIOCore

/// Compresses and decompresses the records section of a batch with Kafka's codecs.
public enum RecordCompression {
    /// Compresses `input`'s readable bytes with `codec`, appending to `output`.
    public static func compress(_ input: ByteBuffer, codec: CompressionCodec, into output: inout ByteBuffer)
        throws(RecordBatchError) {
        switch codec {
        case .none:
            var input = input
            output.writeBuffer(&input)
        default:
            throw .unsupportedCompression(codec)
        }
    }

    /// Decompresses `input` with `codec`; more than `maxOutputBytes` of output is `.decompressedSizeExceeded`.
    public static func decompress(_ input: ByteBuffer, codec: CompressionCodec, maxOutputBytes: Int,
                                  allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RecordBatchError) -> ByteBuffer {
        switch codec {
        case .none:
            guard input.readableBytes <= maxOutputBytes else {
                throw .decompressedSizeExceeded(codec: codec, limit: maxOutputBytes)
            }
            return input
        default:
            throw .unsupportedCompression(codec)
        }
    }
}
