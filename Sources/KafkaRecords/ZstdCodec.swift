// zstd for record batches: one-shot compression, streaming bounded decompression (frames may lack a
// content size, as zstd-jni's streaming writer produces).
import CZstd
import NIOCore

enum ZstdCodec {
    /// Kafka's default `compression.zstd.level`.
    static let defaultLevel: Int32 = 3
    private static let contentSizeUnknown = UInt64.max
    private static let contentSizeError = UInt64.max - 1

    static func compress(_ input: ByteBuffer, level: Int32?, into output: inout ByteBuffer) throws(RecordBatchError) {
        let bound = ZSTD_compressBound(input.readableBytes)
        var failure: String?
        _ = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                let result = ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress,
                                           source.count, level ?? defaultLevel)
                if ZSTD_isError(result) != 0 {
                    failure = String(cString: ZSTD_getErrorName(result))
                    return 0
                }
                return result
            }
        }
        if let failure { throw .compressionFailed(codec: .zstd, reason: failure) }
    }

    static func decompress(_ input: ByteBuffer, maxOutputBytes: Int,
                           allocator: ByteBufferAllocator) throws(RecordBatchError) -> ByteBuffer {
        guard let context = ZSTD_createDCtx() else {
            throw .compressionFailed(codec: .zstd, reason: "cannot allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(context) }
        let result: Result<ByteBuffer, RecordBatchError> = input.withUnsafeReadableBytes { source in
            // Fast path: when the frames' upper bound fits the limit, decode in one call straight into the
            // output (no window copy). The bound is exact with a declared content size and otherwise at most
            // one block (128 KiB) above the real size.
            let bound = ZSTD_decompressBound(source.baseAddress, source.count)
            if bound != contentSizeError, bound <= UInt64(maxOutputBytes) {
                var output = allocator.buffer(capacity: Swift.max(Int(bound), 1))
                var status = 0
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { destination in
                    status = ZSTD_decompressDCtx(context, destination.baseAddress, Int(bound), source.baseAddress,
                                                 source.count)
                    return ZSTD_isError(status) != 0 ? 0 : status
                }
                if ZSTD_isError(status) != 0 {
                    return .failure(.compressionFailed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(status))))
                }
                return .success(output)
            }
            let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
            var expected = Swift.max(source.count * 4, 64 << 10)
            if declared != contentSizeUnknown, declared != contentSizeError {
                // A single frame announcing more than the limit is refused before any work.
                guard declared <= UInt64(maxOutputBytes) else {
                    return .failure(.decompressedSizeExceeded(codec: .zstd, limit: maxOutputBytes))
                }
                expected = Int(declared) + 1
            }
            var output = BoundedOutput(codec: .zstd, limit: maxOutputBytes, expectedSize: expected, allocator: allocator)
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            var lastResult = 0
            while true {
                var produced = 0
                var space = 0
                output.write { destination in
                    space = destination.count
                    var outBuffer = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: 0)
                    lastResult = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    produced = outBuffer.pos
                    return outBuffer.pos
                }
                if ZSTD_isError(lastResult) != 0 {
                    return .failure(.compressionFailed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(lastResult))))
                }
                if let error = output.limitError { return .failure(error) }
                let inputDone = inBuffer.pos == inBuffer.size
                if lastResult == 0, inputDone { return .success(output.buffer) }
                // Input used up, output space left, frame unfinished: the frame is truncated.
                if inputDone, produced < space {
                    return .failure(.compressionFailed(codec: .zstd, reason: "truncated zstd frame"))
                }
            }
        }
        return try result.get()
    }
}
