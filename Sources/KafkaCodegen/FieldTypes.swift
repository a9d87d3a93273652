// FieldTypes: Swift types, defaults and minimum encoded sizes of schema fields.

/// Type-level facts about the fields of one message, resolved against its struct registry.
struct MessageContext {
    let message: MessageSchema
    let structs: [String: StructSchema]

    init(message: MessageSchema) {
        self.message = message
        var registry: [String: StructSchema] = [:]
        for nested in message.nestedStructs { registry[nested.name] = nested }
        structs = registry
    }

    var valid: Versions { message.validVersions }

    /// The Swift type of a schema type, not counting nullability.
    func baseType(_ type: FieldType) -> String {
        switch type {
        case .bool: return "Bool"
        case .int8: return "Int8"
        case .int16: return "Int16"
        case .uint16: return "UInt16"
        case .int32: return "Int32"
        case .uint32: return "UInt32"
        case .int64: return "Int64"
        case .float64: return "Double"
        case .string: return "String"
        case .bytes, .records: return "ByteBuffer"
        case .uuid: return "KafkaUUID"
        case .structure(let name): return name
        case .array(let element): return "[\(baseType(element))]"
        }
    }

    /// True when the property is an Optional.
    func isOptional(_ field: FieldSchema) -> Bool {
        if field.type == .records { return true }
        switch field.type {
        case .string, .bytes, .array, .structure: return field.isNullableSomewhere
        default: return false
        }
    }

    /// The Swift type of the property.
    func propertyType(_ field: FieldSchema) -> String {
        isOptional(field) ? baseType(field.type) + "?" : baseType(field.type)
    }

    /// The Swift expression of the field's default value.
    func defaultExpression(_ field: FieldSchema) throws -> String {
        let raw = field.defaultValue
        if isOptional(field) {
            if field.type == .records || raw == "null" { return "nil" }
            if case .structure = field.type { return "nil" }
        }
        switch field.type {
        case .bool:
            return raw == "true" ? "true" : "false"
        case .int8, .int16, .uint16, .int32, .uint32, .int64:
            guard let raw, !raw.isEmpty else { return "0" }
            return String(try Self.parseInteger(raw, field: field.name))
        case .float64:
            guard let raw, let value = Double(raw) else { return "0" }
            return "\(value)"
        case .string:
            return SwiftNames.stringLiteral(raw ?? "")
        case .bytes, .records:
            return "ByteBuffer()"
        case .uuid:
            return "KafkaUUID.zero"
        case .structure(let name):
            return "\(name)()"
        case .array:
            return "[]"
        }
    }

    static func parseInteger(_ text: String, field: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("0x"), let value = Int64(trimmed.dropFirst(2), radix: 16) { return value }
        if trimmed.lowercased().hasPrefix("-0x"), let value = Int64(trimmed.dropFirst(3), radix: 16) { return -value }
        guard let value = Int64(trimmed) else { throw CodegenError.invalidSchema("field \(field): bad default \(text)") }
        return value
    }

    /// Is `version` flexible for this field (message flexible versions, narrowed by a field override)?
    func isFlexible(_ field: FieldSchema?, version: Int) -> Bool {
        guard message.flexibleVersions.contains(version) else { return false }
        if let override = field?.flexibleVersions { return override.contains(version) }
        return true
    }

    /// The Swift condition for "this field uses compact encodings".
    func compactCondition(_ field: FieldSchema) -> String {
        var flexible = message.flexibleVersions
        if let override = field.flexibleVersions { flexible = flexible.intersection(override) }
        return flexible.condition("version", within: valid)
    }

    /// The Swift condition for "structs have a tagged field section".
    var flexibleCondition: String { message.flexibleVersions.condition("version", within: valid) }

    /// Valid versions as a list (bounded; open ranges never occur for valid versions).
    var validVersionList: [Int] {
        guard !valid.isEmpty else { return [] }
        let high = valid.highest ?? valid.lowest
        return Array(valid.lowest...high)
    }

    /// The fewest bytes one struct of `name` encodes to in `version`.
    func minimumSize(ofStruct name: String, version: Int, depth: Int = 0) -> Int {
        guard depth < 16, let schema = structs[name] else { return 0 }
        var size = isFlexible(nil, version: version) ? 1 : 0
        for field in schema.fields where field.versions.contains(version) {
            if field.isTagged && field.taggedVersions.contains(version) { continue }
            size += minimumSize(ofField: field, version: version, depth: depth + 1)
        }
        return size
    }

    func minimumSize(ofField field: FieldSchema, version: Int, depth: Int) -> Int {
        let compact = isFlexible(field, version: version)
        if let fixed = field.type.fixedSize { return fixed }
        switch field.type {
        case .string: return compact ? 1 : 2
        case .bytes, .records, .array: return compact ? 1 : 4
        case .structure(let name):
            if field.nullableVersions.contains(version) { return 1 }
            return minimumSize(ofStruct: name, version: version, depth: depth)
        default: return 1
        }
    }

    /// The smallest encoded size of one array element, over every valid version (at least 1).
    func minimumElementSize(_ element: FieldType, versions: Versions) -> Int {
        if let fixed = element.fixedSize { return fixed }
        guard case .structure(let name) = element else { return 1 }
        var smallest = Int.max
        for version in validVersionList where versions.contains(version) {
            smallest = min(smallest, minimumSize(ofStruct: name, version: version))
        }
        return max(1, smallest == Int.max ? 1 : smallest)
    }
}

import Foundation
