// Reading Kafka wire primitives from a ByteBuffer. Every read checks the readable bytes first and
// throws a typed KafkaDecodingError instead of trapping or over-allocating.
import NIOCore

extension ByteBuffer {
    /// Reads a big-endian fixed-width integer.
    @inlinable
    public mutating func readKafkaInteger<T: FixedWidthInteger>(as: T.Type = T.self, field: String) throws(KafkaDecodingError) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else { throw .truncated(field: field) }
        return value
    }

    /// Reads a boolean (one byte, non-zero is true).
    @inlinable
    public mutating func readKafkaBool(field: String) throws(KafkaDecodingError) -> Bool {
        guard let value = readInteger(as: UInt8.self) else { throw .truncated(field: field) }
        return value != 0
    }

    /// Reads an IEEE 754 double (8 bytes, big-endian).
    @inlinable
    public mutating func readKafkaFloat64(field: String) throws(KafkaDecodingError) -> Double {
        guard let bits = readInteger(endianness: .big, as: UInt64.self) else { throw .truncated(field: field) }
        return Double(bitPattern: bits)
    }

    /// Reads a 16-byte UUID.
    @inlinable
    public mutating func readKafkaUUID(field: String) throws(KafkaDecodingError) -> KafkaUUID {
        guard readableBytes >= 16,
              let high = readInteger(endianness: .big, as: UInt64.self),
              let low = readInteger(endianness: .big, as: UInt64.self)
        else { throw .truncated(field: field) }
        return KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
    }

    /// Reads an unsigned varint of at most 5 bytes (Kafka's `readUnsignedVarint`).
    @inlinable
    public mutating func readUnsignedVarint(field: String = "unsigned varint") throws(KafkaDecodingError) -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw .truncated(field: field) }
            if shift == 28 && byte > 0x0F { throw .invalidVarint }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads an unsigned varlong of at most 10 bytes.
    @inlinable
    public mutating func readUnsignedVarlong(field: String = "unsigned varlong") throws(KafkaDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw .truncated(field: field) }
            if shift == 63 && byte > 0x01 { throw .invalidVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads a zig-zag encoded signed varint (32-bit).
    @inlinable
    public mutating func readVarint(field: String = "varint") throws(KafkaDecodingError) -> Int32 {
        let raw = try readUnsignedVarint(field: field)
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a zig-zag encoded signed varlong (64-bit).
    @inlinable
    public mutating func readVarlong(field: String = "varlong") throws(KafkaDecodingError) -> Int64 {
        let raw = try readUnsignedVarlong(field: field)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a length prefix: int16 (`compact == false`, strings), int32 (bytes, arrays) or an
    /// unsigned varint holding length + 1 (`compact == true`). Returns nil for null (-1 / 0) and
    /// checks the length against `minimumElementSize × length ≤ readableBytes`.
    @inlinable
    mutating func readKafkaLength(compact: Bool, wide: Bool, minimumElementSize: Int, field: String) throws(KafkaDecodingError) -> Int? {
        let length: Int64
        if compact {
            let raw = try readUnsignedVarint(field: field)
            if raw == 0 { return nil }
            length = Int64(raw) - 1
        } else if wide {
            let raw: Int32 = try readKafkaInteger(field: field)
            if raw == -1 { return nil }
            length = Int64(raw)
        } else {
            let raw: Int16 = try readKafkaInteger(field: field)
            if raw == -1 { return nil }
            length = Int64(raw)
        }
        guard length >= 0, length * Int64(Swift.max(minimumElementSize, 0)) <= Int64(readableBytes) else {
            throw .invalidLength(field: field, length: length)
        }
        return Int(length)
    }

    /// Reads a (compact) nullable string. Returns nil for null.
    @inlinable
    public mutating func readKafkaNullableString(compact: Bool, field: String) throws(KafkaDecodingError) -> String? {
        guard let length = try readKafkaLength(compact: compact, wide: false, minimumElementSize: 1, field: field) else {
            return nil
        }
        guard let slice = readSlice(length: length) else { throw .truncated(field: field) }
        let string: String? = slice.withUnsafeReadableBytes { raw in String(validating: raw, as: UTF8.self) }
        guard let string else { throw .invalidUTF8(field: field) }
        return string
    }

    /// Reads a (compact) non-nullable string; null is `nullNotAllowed`.
    @inlinable
    public mutating func readKafkaString(compact: Bool, field: String) throws(KafkaDecodingError) -> String {
        guard let string = try readKafkaNullableString(compact: compact, field: field) else {
            throw .nullNotAllowed(field: field)
        }
        return string
    }

    /// Reads (compact) nullable bytes as a slice sharing storage with this buffer (no copy).
    @inlinable
    public mutating func readKafkaNullableBytes(compact: Bool, field: String) throws(KafkaDecodingError) -> ByteBuffer? {
        guard let length = try readKafkaLength(compact: compact, wide: true, minimumElementSize: 1, field: field) else {
            return nil
        }
        guard let slice = readSlice(length: length) else { throw .truncated(field: field) }
        return slice
    }

    /// Reads (compact) non-nullable bytes; null is `nullNotAllowed`.
    @inlinable
    public mutating func readKafkaBytes(compact: Bool, field: String) throws(KafkaDecodingError) -> ByteBuffer {
        guard let bytes = try readKafkaNullableBytes(compact: compact, field: field) else {
            throw .nullNotAllowed(field: field)
        }
        return bytes
    }

    /// Reads a (compact) array count; nil for a null array. The count is checked against the bytes
    /// left assuming each element takes at least `minimumElementSize` bytes, so a forged count can
    /// never make the caller reserve more than the input could hold.
    @inlinable
    public mutating func readKafkaArrayCount(compact: Bool, minimumElementSize: Int, field: String) throws(KafkaDecodingError) -> Int? {
        try readKafkaLength(compact: compact, wide: true, minimumElementSize: Swift.max(minimumElementSize, 1), field: field)
    }

    /// Reads the marker byte of a nullable struct: -1 is null, anything else means present.
    @inlinable
    public mutating func readKafkaStructPresence(field: String) throws(KafkaDecodingError) -> Bool {
        let marker: Int8 = try readKafkaInteger(field: field)
        return marker >= 0
    }

    /// Reads the header of a tagged field section: the number of fields that follow.
    @inlinable
    public mutating func readTaggedFieldCount(field: String) throws(KafkaDecodingError) -> Int {
        let count = try readUnsignedVarint(field: field)
        // Each tagged field takes at least two bytes (tag and size).
        guard Int64(count) * 2 <= Int64(readableBytes) else { throw .invalidLength(field: field, length: Int64(count)) }
        return Int(count)
    }

    /// Reads one tagged field's tag and its data as a slice.
    @inlinable
    public mutating func readTaggedField(field: String) throws(KafkaDecodingError) -> TaggedField {
        let tag = try readUnsignedVarint(field: field)
        let size = try readUnsignedVarint(field: field)
        guard let data = readSlice(length: Int(size)) else { throw .invalidLength(field: field, length: Int64(size)) }
        return TaggedField(tag: tag, data: data)
    }

    /// Reads a whole tagged field section keeping every field as unknown (for structs without
    /// known tagged fields and for headers).
    @inlinable
    public mutating func readUnknownTaggedFields(field: String) throws(KafkaDecodingError) -> [TaggedField] {
        let count = try readTaggedFieldCount(field: field)
        var fields: [TaggedField] = []
        for _ in 0..<count {
            let tagged = try readTaggedField(field: field)
            fields.append(tagged)
        }
        return fields
    }
}
