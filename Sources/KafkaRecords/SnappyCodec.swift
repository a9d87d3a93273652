// Snappy for record batches: the xerial framing the Java client writes (and librdkafka reads and writes),
// plus a raw snappy block, which some clients send.
import CSnappy
import NIOCore

enum SnappyCodec {
    /// xerial's stream header: magic (0x82 "SNAPPY" 0x00), then int32 version 1 and int32 compatible version 1.
    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    static let xerialHeaderSize = 16
    /// Uncompressed bytes per xerial block (snappy-java's default block size).
    static let xerialBlockSize = 32 * 1024

    /// Writes `input` in the xerial framing: the header, then blocks each prefixed with an int32 length.
    static func compressXerial(_ input: ByteBuffer, into output: inout ByteBuffer) throws(RecordBatchError) {
        output.writeBytes(xerialMagic)
        output.writeInteger(Int32(1))
        output.writeInteger(Int32(1))
        var remaining = input
        while remaining.readableBytes > 0 {
            guard let block = remaining.readSlice(length: Swift.min(xerialBlockSize, remaining.readableBytes)) else { break }
            let lengthIndex = output.writerIndex
            output.writeInteger(Int32(0))
            let written = try compressRaw(block, into: &output)
            output.setInteger(Int32(written), at: lengthIndex)
        }
    }

    /// Writes `input` as one raw snappy block; returns its size.
    @discardableResult
    static func compressRaw(_ input: ByteBuffer, into output: inout ByteBuffer) throws(RecordBatchError) -> Int {
        let bound = snappy_max_compressed_length(input.readableBytes)
        var status = SNAPPY_OK
        let written = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                var length = destination.count
                status = snappy_compress(source.baseAddress?.assumingMemoryBound(to: CChar.self), source.count,
                                         destination.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
                return status == SNAPPY_OK ? length : 0
            }
        }
        guard status == SNAPPY_OK else { throw .compressionFailed(codec: .snappy, reason: "snappy_compress failed") }
        return written
    }

    static func isXerial(_ input: ByteBuffer) -> Bool {
        input.readableBytes >= xerialHeaderSize
            && input.getBytes(at: input.readerIndex, length: xerialMagic.count) == xerialMagic
    }

    static func decompress(_ input: ByteBuffer, maxOutputBytes: Int,
                           allocator: ByteBufferAllocator) throws(RecordBatchError) -> ByteBuffer {
        guard isXerial(input) else {
            var output = allocator.buffer(capacity: 0)
            try decompressBlock(input, into: &output, maxOutputBytes: maxOutputBytes)
            return output
        }
        var remaining = input
        remaining.moveReaderIndex(forwardBy: xerialHeaderSize)
        var output = allocator.buffer(capacity: Swift.min(maxOutputBytes, Swift.max(input.readableBytes * 3, 1024)))
        while remaining.readableBytes > 0 {
            guard let length = remaining.readInteger(as: Int32.self), length >= 0,
                  let block = remaining.readSlice(length: Int(length))
            else { throw .compressionFailed(codec: .snappy, reason: "truncated or invalid xerial block length") }
            try decompressBlock(block, into: &output, maxOutputBytes: maxOutputBytes)
        }
        return output
    }

    /// Appends one raw snappy block's content to `output`, refusing to grow it past `maxOutputBytes`.
    private static func decompressBlock(_ block: ByteBuffer, into output: inout ByteBuffer,
                                        maxOutputBytes: Int) throws(RecordBatchError) {
        var declared = 0
        let lengthStatus = block.withUnsafeReadableBytes { source in
            snappy_uncompressed_length(source.baseAddress?.assumingMemoryBound(to: CChar.self), source.count, &declared)
        }
        guard lengthStatus == SNAPPY_OK else {
            throw .compressionFailed(codec: .snappy, reason: "invalid snappy block header")
        }
        guard declared <= maxOutputBytes - output.readableBytes else {
            throw .decompressedSizeExceeded(codec: .snappy, limit: maxOutputBytes)
        }
        guard declared > 0 else {
            // Nothing to write, but the block must still be exactly an empty block.
            let valid = block.withUnsafeReadableBytes { source in
                snappy_validate_compressed_buffer(source.baseAddress?.assumingMemoryBound(to: CChar.self), source.count)
            }
            guard valid == SNAPPY_OK else { throw .compressionFailed(codec: .snappy, reason: "corrupt snappy block") }
            return
        }
        var status = SNAPPY_OK
        _ = block.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: declared) { destination in
                var length = declared
                status = snappy_uncompress(source.baseAddress?.assumingMemoryBound(to: CChar.self), source.count,
                                           destination.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
                return status == SNAPPY_OK ? length : 0
            }
        }
        guard status == SNAPPY_OK else { throw .compressionFailed(codec: .snappy, reason: "corrupt snappy block") }
    }
}
