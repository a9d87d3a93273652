// gzip for record batches via zlib: a plain gzip stream out, multi-member streams accepted in.
import CZlib
import NIOCore

enum GzipCodec {
    /// windowBits for deflate: 15-bit window + 16 = write a gzip wrapper.
    private static let gzipWindowBits: Int32 = 15 + 16
    /// windowBits for inflate: 15-bit window + 32 = detect gzip or zlib wrapper.
    private static let detectWindowBits: Int32 = 15 + 32

    static func compress(_ input: ByteBuffer, level: Int32?, into output: inout ByteBuffer) throws(RecordBatchError) {
        var stream = z_stream()
        guard deflateInit2_(&stream, level ?? Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzipWindowBits, 8,
                            Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw .compressionFailed(codec: .gzip, reason: "deflateInit2 failed (level \(level ?? -1))") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.readableBytes))) + 32
        var status = Z_OK
        _ = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(destination.count)
                status = deflate(&stream, Z_FINISH)
                return destination.count - Int(stream.avail_out)
            }
        }
        guard status == Z_STREAM_END else {
            throw .compressionFailed(codec: .gzip, reason: "deflate returned \(status)")
        }
    }

    static func decompress(_ input: ByteBuffer, maxOutputBytes: Int,
                           allocator: ByteBufferAllocator) throws(RecordBatchError) -> ByteBuffer {
        var stream = z_stream()
        guard inflateInit2_(&stream, detectWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .compressionFailed(codec: .gzip, reason: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        let result: Result<ByteBuffer, RecordBatchError> = input.withUnsafeReadableBytes { source in
            var output = BoundedOutput(codec: .gzip, limit: maxOutputBytes,
                                       expectedSize: Swift.max(source.count * 4, 64 << 10), allocator: allocator)
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(source.count)
            while true {
                var status = Z_OK
                output.write { destination in
                    stream.next_out = destination.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(destination.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return destination.count - Int(stream.avail_out)
                }
                if let error = output.limitError { return .failure(error) }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    // Another member follows when the next bytes are the gzip magic; trailing bytes that are
                    // not a member are ignored, as java.util.zip.GZIPInputStream does.
                    let remaining = Int(stream.avail_in)
                    guard remaining >= 2, let next = stream.next_in, next[0] == 0x1F, next[1] == 0x8B else {
                        return .success(output.buffer)
                    }
                    guard inflateReset(&stream) == Z_OK else {
                        return .failure(.compressionFailed(codec: .gzip, reason: "inflateReset failed"))
                    }
                case Z_BUF_ERROR:
                    return .failure(.compressionFailed(codec: .gzip, reason: "truncated gzip stream"))
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    return .failure(.compressionFailed(codec: .gzip, reason: message))
                }
            }
        }
        return try result.get()
    }
}
