// StructGenerator+Encoding: the encoder half of a generated struct.

extension StructGenerator {
    func emitEncoder(into out: inout CodeWriter) throws {
        out.line("/// Encodes this struct in `version`.")
        out.line("public func encode(to buffer: inout ByteBuffer, version: Int16) throws(KafkaEncodingError) {")
        out.indent()
        if isTopLevel {
            let validCondition = "version >= \(valid.lowest) && version <= \(valid.highest ?? valid.lowest)"
            out.line("guard \(validCondition) else {")
            out.line("    throw KafkaEncodingError.unsupportedVersion(\(SwiftNames.stringLiteral(name)), version)")
            out.line("}")
        }
        for field in fields {
            let regular = field.isTagged ? field.versions.subtracting(field.taggedVersions) : field.versions
            let condition = regular.condition("version", within: valid)
            // The versions in which the value can be carried at all.
            let carried = field.isTagged ? field.versions.condition("version", within: valid) : condition
            if condition != "false" {
                if condition == "true" {
                    try emitWrite(field, buffer: "buffer", into: &out)
                } else {
                    out.line("if \(condition) {")
                    out.indent()
                    try emitWrite(field, buffer: "buffer", into: &out)
                    out.dedent()
                    out.line("}")
                }
            }
            if !field.ignorable && carried != "true" {
                let property = "self.\(SwiftNames.property(field.name))"
                let differs = "\(property) != \(try context.defaultExpression(field))"
                let guardText = carried == "false" ? differs : "!(\(carried)) && \(differs)"
                out.line("if \(guardText) {")
                out.line("    throw KafkaEncodingError.fieldNotInVersion(\(SwiftNames.stringLiteral(name)), \(fieldLiteral(field)), version)")
                out.line("}")
            }
        }
        try emitInFlexibleVersions(into: &out) { try emitTaggedWrite(into: &$0) }
        out.dedent()
        out.line("}")
    }

    func emitTaggedWrite(into out: inout CodeWriter) throws {
        let tagged = fields.filter { $0.isTagged && $0.taggedVersions.condition("version", within: valid) != "false" }
            .sorted { ($0.tag ?? 0) < ($1.tag ?? 0) }
        if tagged.isEmpty {
            out.line("buffer.writeTaggedFields([], unknown: self.unknownTaggedFields)")
            return
        }
        out.line("var taggedFields: [TaggedField] = []")
        for field in tagged {
            let property = "self.\(SwiftNames.property(field.name))"
            let condition = field.taggedVersions.condition("version", within: valid.intersection(context.message.flexibleVersions))
            let differs = "\(property) != \(try context.defaultExpression(field))"
            out.line(condition == "true" ? "if \(differs) {" : "if \(condition) && \(differs) {")
            out.indent()
            out.line("var tagData: ByteBuffer = ByteBuffer()")
            try emitWrite(field, buffer: "tagData", into: &out)
            out.line("taggedFields.append(TaggedField(tag: \(field.tag ?? 0), data: tagData))")
            out.dedent()
            out.line("}")
        }
        out.line("buffer.writeTaggedFields(taggedFields, unknown: self.unknownTaggedFields)")
    }

    /// The statement writing one value of a non-array type.
    func writeStatement(_ type: FieldType, value: String, field: FieldSchema, buffer: String) -> String {
        let compact = context.compactCondition(field)
        switch type {
        case .bool: return "\(buffer).writeKafkaBool(\(value))"
        case .float64: return "\(buffer).writeKafkaFloat64(\(value))"
        case .uuid: return "\(buffer).writeKafkaUUID(\(value))"
        case .string: return "try \(buffer).writeKafkaString(\(value), compact: \(compact), field: \(fieldLiteral(field)))"
        case .bytes, .records: return "\(buffer).writeKafkaBytes(\(value), compact: \(compact))"
        case .structure: return "try \(value).encode(to: &\(buffer), version: version)"
        case .array: return ""
        default: return "\(buffer).writeKafkaInteger(\(value))"
        }
    }

    func emitWrite(_ field: FieldSchema, buffer: String, into out: inout CodeWriter) throws {
        let property = "self.\(SwiftNames.property(field.name))"
        let optional = context.isOptional(field)
        let compact = context.compactCondition(field)
        switch field.type {
        case .array(let element):
            if optional {
                out.line("if let items: \(context.baseType(field.type)) = \(property) {")
                out.indent()
            } else {
                out.line("do {")
                out.indent()
                out.line("let items: \(context.baseType(field.type)) = \(property)")
            }
            out.line("\(buffer).writeKafkaArrayCount(items.count, compact: \(compact))")
            out.line("for item in items {")
            out.line("    \(writeStatement(element, value: "item", field: field, buffer: buffer))")
            out.line("}")
            out.dedent()
            if optional {
                out.line("} else {")
                out.indent()
                for line in nullCheck(field, isNull: "true", decoding: false) { out.line(line) }
                if !nullNeverAllowed(field) { out.line("\(buffer).writeKafkaArrayCount(nil, compact: \(compact))") }
                out.dedent()
            }
            out.line("}")
        case .structure:
            if !optional {
                out.line(writeStatement(field.type, value: property, field: field, buffer: buffer))
                return
            }
            let condition = field.nullableVersions.condition("version", within: valid)
            out.line("if let value = \(property) {")
            out.indent()
            if condition == "true" {
                out.line("\(buffer).writeKafkaStructPresence(true)")
            } else if condition != "false" {
                out.line("if \(condition) {")
                out.line("    \(buffer).writeKafkaStructPresence(true)")
                out.line("}")
            }
            out.line(writeStatement(field.type, value: "value", field: field, buffer: buffer))
            out.dedent()
            out.line("} else {")
            out.indent()
            for line in nullCheck(field, isNull: "true", decoding: false) { out.line(line) }
            if condition != "false" && !nullNeverAllowed(field) {
                out.line("\(buffer).writeKafkaStructPresence(false)")
            }
            out.dedent()
            out.line("}")
        case .records:
            if field.isNullableSomewhere {
                for line in nullCheck(field, isNull: "\(property) == nil", decoding: false) { out.line(line) }
                out.line(writeStatement(field.type, value: property, field: field, buffer: buffer))
            } else {
                // A records field that is never null: an absent value is written as empty.
                out.line("\(buffer).writeKafkaBytes(\(property) ?? ByteBuffer(), compact: \(compact))")
            }
        case .string, .bytes:
            if optional {
                for line in nullCheck(field, isNull: "\(property) == nil", decoding: false) { out.line(line) }
            }
            out.line(writeStatement(field.type, value: property, field: field, buffer: buffer))
        default:
            out.line(writeStatement(field.type, value: property, field: field, buffer: buffer))
        }
    }
}
