// CRC-32C (Castagnoli) over bytes, as used by record batch v2.
import CCRC32C
import NIOCore

/// CRC-32C of record batches; hardware accelerated where the CPU allows.
public enum CRC32C {
    /// True when the SSE4.2 instruction is used.
    public static var isHardwareAccelerated: Bool { runnel_crc32c_has_hardware() != 0 }

    /// Checksum of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return runnel_crc32c(crc, base, bytes.count)
    }

    /// Checksum of the readable bytes of `buffer` in `range` (indices relative to the buffer's storage).
    /// Returns nil when the range lies outside the buffer's readable bytes.
    public static func checksum(of buffer: ByteBuffer, at index: Int, length: Int) -> UInt32? {
        guard length >= 0, index >= buffer.readerIndex, index <= buffer.writerIndex - length else { return nil }
        return buffer.withUnsafeReadableBytes { raw in
            let start = index - buffer.readerIndex
            return checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)]))
        }
    }

    /// The portable implementation (for tests and benchmarks).
    public static func portableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return runnel_crc32c_portable(crc, base, bytes.count)
    }
}
