// LZ4 for record batches: the standard LZ4 frame format (what Kafka's Java client has written since
// magic v1), 64 KiB independent blocks, bounded streaming decompression.
import CLZ4
import NIOCore

enum LZ4Codec {
    /// Kafka's default `compression.lz4.level` (LZ4HC level 9).
    static let defaultLevel: Int32 = 9

    static func compress(_ input: ByteBuffer, level: Int32?, into output: inout ByteBuffer) throws(RecordBatchError) {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.compressionLevel = level ?? defaultLevel
        let bound = LZ4F_compressFrameBound(input.readableBytes, &preferences)
        var failure: String?
        _ = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                let result = LZ4F_compressFrame(destination.baseAddress, destination.count, source.baseAddress,
                                                source.count, &preferences)
                if LZ4F_isError(result) != 0 {
                    failure = String(cString: LZ4F_getErrorName(result))
                    return 0
                }
                return result
            }
        }
        if let failure { throw .compressionFailed(codec: .lz4, reason: failure) }
    }

    static func decompress(_ input: ByteBuffer, maxOutputBytes: Int,
                           allocator: ByteBufferAllocator) throws(RecordBatchError) -> ByteBuffer {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw .compressionFailed(codec: .lz4, reason: "cannot allocate a decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        let result: Result<ByteBuffer, RecordBatchError> = input.withUnsafeReadableBytes { source in
            var output = BoundedOutput(codec: .lz4, limit: maxOutputBytes,
                                       expectedSize: Swift.max(source.count * 4, 64 << 10), allocator: allocator)
            var consumedTotal = 0
            var hint = 1
            while true {
                var produced = 0
                var consumed = 0
                var space = 0
                output.write { destination in
                    space = destination.count
                    var destinationSize = destination.count
                    var sourceSize = source.count - consumedTotal
                    hint = LZ4F_decompress(context, destination.baseAddress, &destinationSize,
                                           source.baseAddress.map { $0 + consumedTotal }, &sourceSize, nil)
                    produced = destinationSize
                    consumed = sourceSize
                    return LZ4F_isError(hint) != 0 ? 0 : destinationSize
                }
                if LZ4F_isError(hint) != 0 {
                    return .failure(.compressionFailed(codec: .lz4, reason: String(cString: LZ4F_getErrorName(hint))))
                }
                if let error = output.limitError { return .failure(error) }
                consumedTotal += consumed
                let inputDone = consumedTotal == source.count
                if hint == 0, inputDone { return .success(output.buffer) }
                if inputDone, produced < space {
                    return .failure(.compressionFailed(codec: .lz4, reason: "truncated LZ4 frame"))
                }
            }
        }
        return try result.get()
    }
}
