// StructGenerator: emits one Swift struct (properties, init(), decoder, encoder) for a schema struct.

/// Writes the Swift source of one struct of a message.
struct StructGenerator {
    let context: MessageContext
    /// The schema name of the struct (the message name for the body).
    let name: String
    let fields: [FieldSchema]
    /// True for the message body (checks the version range, conforms to the message protocols).
    let isTopLevel: Bool

    var valid: Versions { context.valid }

    func emit(into out: inout CodeWriter, conformances: String, extraMembers: [String], nested: [StructSchema]) throws {
        out.line("public struct \(name): \(conformances) {")
        out.indent()
        for member in extraMembers { out.line(member) }
        if !extraMembers.isEmpty { out.blank() }
        for field in fields {
            let doc = SwiftNames.doc(field.about)
            if !doc.isEmpty { out.line("/// \(doc)") }
            out.line("public var \(SwiftNames.property(field.name)): \(context.propertyType(field)) = \(try context.defaultExpression(field))")
        }
        out.line("/// Tagged fields this build does not know, kept to be written back unchanged.")
        out.line("public var unknownTaggedFields: [TaggedField] = []")
        out.blank()
        out.line("/// A value with every field at its schema default.")
        out.line("public init() {}")
        out.blank()
        try emitDecoder(into: &out)
        out.blank()
        try emitEncoder(into: &out)
        for inner in nested {
            out.blank()
            out.line("/// The `\(inner.name)` struct of \(name).")
            let generator = StructGenerator(context: context, name: inner.name, fields: inner.fields, isTopLevel: false)
            try generator.emit(into: &out, conformances: "Sendable, Equatable", extraMembers: [], nested: [])
        }
        out.dedent()
        out.line("}")
    }

    // MARK: Decoding

    func emitDecoder(into out: inout CodeWriter) throws {
        out.line("/// Decodes this struct as encoded in `version`.")
        out.line("public init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaDecodingError) {")
        out.indent()
        out.line("self.init()")
        if isTopLevel {
            let validCondition = "version >= \(valid.lowest) && version <= \(valid.highest ?? valid.lowest)"
            out.line("guard \(validCondition) else {")
            out.line("    throw KafkaDecodingError.unsupportedVersion(apiKey: \(context.message.apiKey ?? -1), version: version)")
            out.line("}")
        }
        for field in fields {
            let regular = field.isTagged ? field.versions.subtracting(field.taggedVersions) : field.versions
            let condition = regular.condition("version", within: valid)
            if condition == "false" { continue }
            if condition == "true" {
                try emitRead(field, buffer: "buffer", into: &out)
            } else {
                out.line("if \(condition) {")
                out.indent()
                try emitRead(field, buffer: "buffer", into: &out)
                out.dedent()
                out.line("}")
            }
        }
        try emitInFlexibleVersions(into: &out) { try emitTaggedRead(into: &$0) }
        out.dedent()
        out.line("}")
    }

    /// Emits `body` for the flexible versions only: unguarded when every version is flexible, inside an
    /// `if` on the version when some are, not at all when none is.
    func emitInFlexibleVersions(into out: inout CodeWriter, _ body: (inout CodeWriter) throws -> Void) throws {
        let flexible = context.flexibleCondition
        guard flexible != "false" else { return }
        if flexible != "true" {
            out.line("if \(flexible) {")
            out.indent()
        }
        try body(&out)
        if flexible != "true" {
            out.dedent()
            out.line("}")
        }
    }

    func emitTaggedRead(into out: inout CodeWriter) throws {
        let tagged = fields.filter { $0.isTagged && $0.taggedVersions.condition("version", within: valid) != "false" }
        if tagged.isEmpty {
            out.line("self.unknownTaggedFields = try buffer.readUnknownTaggedFields(field: \(SwiftNames.stringLiteral(name)))")
            return
        }
        out.line("let taggedCount: Int = try buffer.readTaggedFieldCount(field: \(SwiftNames.stringLiteral(name)))")
        out.line("for _ in 0..<taggedCount {")
        out.indent()
        out.line("let tagged: TaggedField = try buffer.readTaggedField(field: \(SwiftNames.stringLiteral(name)))")
        out.line("switch tagged.tag {")
        for field in tagged {
            let condition = field.taggedVersions.condition("version", within: valid.intersection(context.message.flexibleVersions))
            let tag = field.tag ?? 0
            out.line(condition == "true" ? "case \(tag):" : "case \(tag) where \(condition):")
            out.indent()
            out.line("var tagData: ByteBuffer = tagged.data")
            try emitRead(field, buffer: "tagData", into: &out)
            out.dedent()
        }
        out.line("default:")
        out.line("    self.unknownTaggedFields.append(tagged)")
        out.line("}")
        out.dedent()
        out.line("}")
    }

    func fieldLiteral(_ field: FieldSchema) -> String { SwiftNames.stringLiteral(field.name) }

    /// The expression reading one value of a non-array, non-struct type.
    func readExpression(_ type: FieldType, field: FieldSchema, buffer: String, nullable: Bool) -> String {
        let label = fieldLiteral(field)
        let compact = context.compactCondition(field)
        switch type {
        case .bool: return "try \(buffer).readKafkaBool(field: \(label))"
        case .float64: return "try \(buffer).readKafkaFloat64(field: \(label))"
        case .uuid: return "try \(buffer).readKafkaUUID(field: \(label))"
        case .string:
            let method = nullable ? "readKafkaNullableString" : "readKafkaString"
            return "try \(buffer).\(method)(compact: \(compact), field: \(label))"
        case .bytes, .records:
            let method = nullable ? "readKafkaNullableBytes" : "readKafkaBytes"
            return "try \(buffer).\(method)(compact: \(compact), field: \(label))"
        case .structure(let structName):
            return "try \(structName)(from: &\(buffer), version: version)"
        case .array:
            return "[]"
        default:
            return "try \(buffer).readKafkaInteger(as: \(context.baseType(type)).self, field: \(label))"
        }
    }

    /// The check that a null is allowed in this version (empty when always allowed).
    func nullCheck(_ field: FieldSchema, isNull: String, decoding: Bool) -> [String] {
        let condition = field.nullableVersions.condition("version", within: valid)
        if condition == "true" { return [] }
        let error = decoding
            ? "KafkaDecodingError.nullNotAllowed(field: \(fieldLiteral(field)))"
            : "KafkaEncodingError.nullNotAllowed(\(SwiftNames.stringLiteral(name)), \(fieldLiteral(field)), version)"
        if isNull == "true" {
            if condition == "false" { return ["throw \(error)"] }
            return ["if !(\(condition)) {", "    throw \(error)", "}"]
        }
        if condition == "false" { return ["if \(isNull) {", "    throw \(error)", "}"] }
        return ["if \(isNull) && !(\(condition)) {", "    throw \(error)", "}"]
    }

    /// True when the field is never nullable in a valid version.
    func nullNeverAllowed(_ field: FieldSchema) -> Bool {
        field.nullableVersions.condition("version", within: valid) == "false"
    }

    func emitRead(_ field: FieldSchema, buffer: String, into out: inout CodeWriter) throws {
        let property = "self.\(SwiftNames.property(field.name))"
        let optional = context.isOptional(field)
        switch field.type {
        case .array(let element):
            let elementType = context.baseType(element)
            let minimum = context.minimumElementSize(element, versions: field.versions)
            out.line("if let count: Int = try \(buffer).readKafkaArrayCount(compact: \(context.compactCondition(field)), minimumElementSize: \(minimum), field: \(fieldLiteral(field))) {")
            out.indent()
            out.line("var items: \(context.baseType(field.type)) = []")
            out.line("items.reserveCapacity(count)")
            out.line("for _ in 0..<count {")
            out.line("    let item: \(elementType) = \(readExpression(element, field: field, buffer: buffer, nullable: false))")
            out.line("    items.append(item)")
            out.line("}")
            out.line("\(property) = items")
            out.dedent()
            out.line("} else {")
            out.indent()
            if optional {
                for line in nullCheck(field, isNull: "true", decoding: true) { out.line(line) }
                if !nullNeverAllowed(field) { out.line("\(property) = nil") }
            } else {
                out.line("throw KafkaDecodingError.nullNotAllowed(field: \(fieldLiteral(field)))")
            }
            out.dedent()
            out.line("}")
        case .structure(let structName):
            if !optional {
                out.line("\(property) = try \(structName)(from: &\(buffer), version: version)")
                return
            }
            let condition = field.nullableVersions.condition("version", within: valid)
            if condition != "true" && condition != "false" {
                out.line("if \(condition) {")
                out.indent()
            }
            if condition != "false" {
                out.line("if try \(buffer).readKafkaStructPresence(field: \(fieldLiteral(field))) {")
                out.line("    \(property) = try \(structName)(from: &\(buffer), version: version)")
                out.line("} else {")
                out.line("    \(property) = nil")
                out.line("}")
            }
            if condition != "true" && condition != "false" {
                out.dedent()
                out.line("} else {")
                out.line("    \(property) = try \(structName)(from: &\(buffer), version: version)")
                out.line("}")
            }
            if condition == "false" {
                out.line("\(property) = try \(structName)(from: &\(buffer), version: version)")
            }
        case .string, .bytes, .records:
            if optional {
                out.line("\(property) = \(readExpression(field.type, field: field, buffer: buffer, nullable: true))")
                for line in nullCheck(field, isNull: "\(property) == nil", decoding: true) { out.line(line) }
            } else {
                out.line("\(property) = \(readExpression(field.type, field: field, buffer: buffer, nullable: false))")
            }
        default:
            out.line("\(property) = \(readExpression(field.type, field: field, buffer: buffer, nullable: false))")
        }
    }
}
