// Zig-zag varint / varlong encoding used inside magic-v2 records (protobuf style, as Kafka's ByteUtils).
import NIOCore

extension ByteBuffer {
    /// Reads a zig-zag varint of at most 5 bytes; nil when malformed or truncated (reader index untouched then).
    @inlinable
    mutating func readVarint() -> Int32? {
        guard let raw = readRawVarint(maxBytes: 5), raw <= UInt64(UInt32.max) else { return nil }
        let value = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    /// Reads a zig-zag varlong of at most 10 bytes; nil when malformed or truncated.
    @inlinable
    mutating func readVarlong() -> Int64? {
        guard let value = readRawVarint(maxBytes: 10) else { return nil }
        return Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    @inlinable
    mutating func readRawVarint(maxBytes: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = readerIndex
        for _ in 0..<maxBytes {
            guard let byte = getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                moveReaderIndex(to: index)
                return result
            }
            shift += 7
        }
        return nil
    }

    /// Writes `value` as a zig-zag varint; returns the number of bytes written.
    @inlinable @discardableResult
    mutating func writeVarint(_ value: Int32) -> Int {
        writeRawVarint(UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }

    /// Writes `value` as a zig-zag varlong; returns the number of bytes written.
    @inlinable @discardableResult
    mutating func writeVarlong(_ value: Int64) -> Int {
        writeRawVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable
    mutating func writeRawVarint(_ value: UInt64) -> Int {
        var remaining = value
        var count = 0
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
            count += 1
        }
        writeInteger(UInt8(truncatingIfNeeded: remaining))
        return count + 1
    }
}

/// Encoded sizes of zig-zag varints, to size a record before writing it.
enum Varint {
    @inlinable
    static func size(_ value: Int32) -> Int {
        rawSize(UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }

    @inlinable
    static func size(_ value: Int64) -> Int {
        rawSize(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable
    static func rawSize(_ value: UInt64) -> Int {
        // 1 byte per 7 significant bits, at least 1.
        let bits = 64 - value.leadingZeroBitCount
        return Swift.max(1, (bits + 6) / 7)
    }
}
