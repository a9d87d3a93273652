// Writing Kafka wire primitives into a ByteBuffer (big-endian integers, varints, compact and
// classic strings/bytes/arrays, tagged field sections).
import NIOCore

extension ByteBuffer {
    /// Writes a big-endian fixed-width integer.
    @inlinable
    public mutating func writeKafkaInteger<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .big, as: T.self)
    }

    /// Writes a boolean as one byte (0 or 1).
    @inlinable
    public mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }

    /// Writes an IEEE 754 double, big-endian.
    @inlinable
    public mutating func writeKafkaFloat64(_ value: Double) {
        writeInteger(value.bitPattern, endianness: .big)
    }

    /// Writes a 16-byte UUID.
    @inlinable
    public mutating func writeKafkaUUID(_ value: KafkaUUID) {
        writeInteger(value.mostSignificantBits, endianness: .big)
        writeInteger(value.leastSignificantBits, endianness: .big)
    }

    /// Writes an unsigned varint (1–5 bytes).
    @inlinable
    public mutating func writeUnsignedVarint(_ value: UInt32) { writeBase128(value) }

    /// Writes an unsigned varlong (1–10 bytes).
    @inlinable
    public mutating func writeUnsignedVarlong(_ value: UInt64) { writeBase128(value) }

    /// Seven bits a byte, least significant group first, the high bit set on every byte but the last.
    @inlinable
    mutating func writeBase128<Value: UnsignedInteger & FixedWidthInteger>(_ value: Value) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(truncatingIfNeeded: remaining))
    }

    /// Writes a zig-zag encoded signed varint.
    @inlinable
    public mutating func writeVarint(_ value: Int32) {
        writeUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    /// Writes a zig-zag encoded signed varlong.
    @inlinable
    public mutating func writeVarlong(_ value: Int64) {
        writeUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Number of bytes `writeUnsignedVarint(value)` writes.
    @inlinable
    public static func unsignedVarintSize(_ value: UInt32) -> Int {
        var size = 1
        var remaining = value
        while remaining >= 0x80 {
            size += 1
            remaining >>= 7
        }
        return size
    }

    /// Writes a length prefix: compact (unsigned varint length + 1, 0 = null), int16 or int32 (-1 = null).
    @inlinable
    mutating func writeKafkaLength(_ length: Int?, compact: Bool, wide: Bool) {
        if compact {
            guard let length else { writeUnsignedVarint(0); return }
            writeUnsignedVarint(UInt32(truncatingIfNeeded: length + 1))
        } else if wide {
            writeInteger(Int32(truncatingIfNeeded: length ?? -1), endianness: .big)
        } else {
            writeInteger(Int16(truncatingIfNeeded: length ?? -1), endianness: .big)
        }
    }

    /// Writes a (compact) nullable string.
    @inlinable
    public mutating func writeKafkaString(_ value: String?, compact: Bool) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, wide: false)
            return
        }
        writeKafkaLength(value.utf8.count, compact: compact, wide: false)
        writeString(value)
    }

    /// Writes a (compact) nullable string, failing when a classic (int16-length) string is longer
    /// than 32767 bytes instead of writing a wrapped length.
    @inlinable
    public mutating func writeKafkaString(_ value: String?, compact: Bool, field: String) throws(KafkaEncodingError) {
        if !compact, let value, value.utf8.count > Int(Int16.max) {
            throw KafkaEncodingError(message: "", field: field, version: -1,
                                     reason: "a \(value.utf8.count)-byte string exceeds the int16 length limit")
        }
        writeKafkaString(value, compact: compact)
    }

    /// Writes (compact) nullable bytes.
    @inlinable
    public mutating func writeKafkaBytes(_ value: ByteBuffer?, compact: Bool) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, wide: true)
            return
        }
        writeKafkaLength(value.readableBytes, compact: compact, wide: true)
        writeImmutableBuffer(value)
    }

    /// Writes a (compact) array count; nil writes the null marker.
    @inlinable
    public mutating func writeKafkaArrayCount(_ count: Int?, compact: Bool) {
        writeKafkaLength(count, compact: compact, wide: true)
    }

    /// Writes the marker byte of a nullable struct (-1 null, 1 present).
    @inlinable
    public mutating func writeKafkaStructPresence(_ present: Bool) {
        writeInteger(present ? Int8(1) : Int8(-1))
    }

    /// Writes a tagged field section from fields in any order (sorted by tag on output).
    @inlinable
    public mutating func writeTaggedFields(_ known: [TaggedField], unknown: [TaggedField]) {
        if known.isEmpty && unknown.isEmpty {
            writeUnsignedVarint(0)
            return
        }
        var all: [TaggedField] = known
        all.append(contentsOf: unknown)
        all.sort { $0.tag < $1.tag }
        writeUnsignedVarint(UInt32(truncatingIfNeeded: all.count))
        for field in all {
            writeUnsignedVarint(field.tag)
            writeUnsignedVarint(UInt32(truncatingIfNeeded: field.data.readableBytes))
            writeImmutableBuffer(field.data)
        }
    }
}
