// SchemaSampleWriter: an independent, schema-interpreting encoder that writes a message populated
// with non-default values, used to check the generated codecs byte for byte.
import KafkaCodegen

/// Writes sample bytes for a schema and version by walking the schema at run time (no generated
/// code involved). Every field gets a non-default value; nullable non-tagged fields are sometimes
/// null; every flexible struct carries one unknown tagged field (tag 10000) to prove preservation.
struct SchemaSampleWriter {
    let message: MessageSchema
    let structs: [String: StructSchema]
    static let unknownTag: UInt32 = 10_000

    private(set) var bytes: [UInt8] = []
    private var counter = 0

    init(message: MessageSchema) {
        self.message = message
        var registry: [String: StructSchema] = [:]
        for nested in message.nestedStructs { registry[nested.name] = nested }
        structs = registry
    }

    static func sample(_ message: MessageSchema, version: Int) -> [UInt8] {
        var writer = SchemaSampleWriter(message: message)
        writer.bytes = writer.structBytes(message.fields, version: version, depth: 0)
        return writer.bytes
    }

    func isFlexible(_ field: FieldSchema?, _ version: Int) -> Bool {
        guard message.flexibleVersions.contains(version) else { return false }
        if let override = field?.flexibleVersions { return override.contains(version) }
        return true
    }

    static func unsignedVarint(_ value: UInt32) -> [UInt8] {
        var result: [UInt8] = []
        var remaining = value
        while remaining >= 0x80 {
            result.append(UInt8(remaining & 0x7F) | 0x80)
            remaining >>= 7
        }
        result.append(UInt8(remaining))
        return result
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var result: [UInt8] = []
        let size = MemoryLayout<T>.size
        for index in 0..<size {
            result.append(UInt8(truncatingIfNeeded: value >> T(8 * (size - 1 - index))))
        }
        return result
    }

    func isTaggedIn(_ field: FieldSchema, _ version: Int) -> Bool {
        field.isTagged && field.taggedVersions.contains(version)
    }

    mutating func structBytes(_ fields: [FieldSchema], version: Int, depth: Int) -> [UInt8] {
        var out: [UInt8] = []
        for field in fields where field.versions.contains(version) && !isTaggedIn(field, version) {
            out += valueBytes(field, version: version, depth: depth, tagged: false)
        }
        if isFlexible(nil, version) {
            let tagged = fields.filter { $0.versions.contains(version) && isTaggedIn($0, version) }
                .sorted { ($0.tag ?? 0) < ($1.tag ?? 0) }
            out += Self.unsignedVarint(UInt32(tagged.count + 1))
            for field in tagged {
                let data = valueBytes(field, version: version, depth: depth, tagged: true)
                out += Self.unsignedVarint(UInt32(field.tag ?? 0))
                out += Self.unsignedVarint(UInt32(data.count))
                out += data
            }
            out += Self.unsignedVarint(Self.unknownTag)
            out += Self.unsignedVarint(2)
            out += [0xAB, UInt8(depth)]
        }
        return out
    }

    mutating func nextValue() -> Int64 {
        counter += 1
        return Int64(counter * 7 + 3)
    }

    func length(_ value: Int?, compact: Bool, wide: Bool) -> [UInt8] {
        if compact { return Self.unsignedVarint(value.map { UInt32($0 + 1) } ?? 0) }
        if wide { return Self.bigEndian(Int32(value ?? -1)) }
        return Self.bigEndian(Int16(value ?? -1))
    }

    /// Null for some nullable, non-tagged fields (a deterministic third of them).
    func chooseNull(_ field: FieldSchema, _ version: Int, tagged: Bool) -> Bool {
        guard !tagged, field.nullableVersions.contains(version) else { return false }
        return (field.name.utf8.count + version) % 3 == 0
    }

    mutating func integer(_ field: FieldSchema) -> Int64 {
        var value = nextValue()
        if let text = field.defaultValue, let parsed = Int64(text), parsed == value { value += 1 }
        return value
    }

    mutating func valueBytes(_ field: FieldSchema, version: Int, depth: Int, tagged: Bool) -> [UInt8] {
        let compact = isFlexible(field, version)
        if chooseNull(field, version, tagged: tagged) {
            switch field.type {
            case .string: return length(nil, compact: compact, wide: false)
            case .bytes, .records, .array: return length(nil, compact: compact, wide: true)
            case .structure: return [0xFF]
            default: break
            }
        }
        return elementBytes(field.type, field: field, version: version, depth: depth, compact: compact)
    }

    mutating func elementBytes(_ type: FieldType, field: FieldSchema, version: Int, depth: Int, compact: Bool) -> [UInt8] {
        switch type {
        case .bool: return [field.defaultValue == "true" ? 0 : 1]
        case .int8: return Self.bigEndian(Int8(truncatingIfNeeded: integer(field) % 100))
        case .int16: return Self.bigEndian(Int16(truncatingIfNeeded: integer(field)))
        case .uint16: return Self.bigEndian(UInt16(truncatingIfNeeded: integer(field)))
        case .int32: return Self.bigEndian(Int32(truncatingIfNeeded: integer(field)))
        case .uint32: return Self.bigEndian(UInt32(truncatingIfNeeded: integer(field)))
        case .int64: return Self.bigEndian(integer(field) << 33)
        case .float64: return Self.bigEndian((Double(nextValue()) + 0.5).bitPattern)
        case .uuid:
            let seed = UInt64(nextValue())
            return Self.bigEndian(seed &* 0x9E37_79B9_7F4A_7C15) + Self.bigEndian(~seed)
        case .string:
            let text = Array("s\(nextValue())é".utf8)
            return length(text.count, compact: compact, wide: false) + text
        case .bytes:
            return length(3, compact: compact, wide: true) + [1, 2, UInt8(truncatingIfNeeded: nextValue())]
        case .records:
            return length(5, compact: compact, wide: true) + [9, 8, 7, 6, UInt8(truncatingIfNeeded: nextValue())]
        case .structure(let name):
            let inner = structs[name]?.fields ?? []
            var out: [UInt8] = field.nullableVersions.contains(version) ? [1] : []
            out += structBytes(inner, version: version, depth: depth + 1)
            return out
        case .array(let element):
            var out = length(2, compact: compact, wide: true)
            for _ in 0..<2 {
                if case .structure(let name) = element {
                    out += structBytes(structs[name]?.fields ?? [], version: version, depth: depth + 1)
                } else {
                    out += elementBytes(element, field: field, version: version, depth: depth + 1, compact: compact)
                }
            }
            return out
        }
    }
}
