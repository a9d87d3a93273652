// Schema: the model of one Kafka message schema file (message, fields, field types), parsed from
// JSON after stripping `//` comments.
import Foundation

/// A field's type as written in the schema.
public indirect enum FieldType: Equatable, Sendable {
    case bool, int8, int16, uint16, int32, uint32, int64, float64, string, bytes, records, uuid
    /// A struct, named by its schema type name.
    case structure(String)
    case array(FieldType)

    init(parsing text: String) {
        if text.hasPrefix("[]") {
            self = .array(FieldType(parsing: String(text.dropFirst(2))))
            return
        }
        switch text {
        case "bool": self = .bool
        case "int8": self = .int8
        case "int16": self = .int16
        case "uint16": self = .uint16
        case "int32": self = .int32
        case "uint32": self = .uint32
        case "int64": self = .int64
        case "float64": self = .float64
        case "string": self = .string
        case "bytes": self = .bytes
        case "records": self = .records
        case "uuid": self = .uuid
        default: self = .structure(text)
        }
    }

    /// True for the fixed-width integer types.
    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .uint16, .int32, .uint32, .int64: return true
        default: return false
        }
    }

    /// Encoded size of a fixed-size type, nil otherwise.
    public var fixedSize: Int? {
        switch self {
        case .bool, .int8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32: return 4
        case .int64, .float64: return 8
        case .uuid: return 16
        default: return nil
        }
    }
}

/// One field of a struct.
public struct FieldSchema: Sendable {
    public var name: String
    public var type: FieldType
    public var versions: Versions
    public var nullableVersions: Versions
    public var taggedVersions: Versions
    public var tag: Int?
    public var ignorable: Bool
    /// The raw default as written ("null", "0x7fffffff", "-1", "true", …), nil if absent.
    public var defaultValue: String?
    /// Field-level override of the message's flexible versions (only ClientId in the header).
    public var flexibleVersions: Versions?
    public var entityType: String?
    public var about: String?
    /// Inline struct fields, when the field declares its struct type here.
    public var fields: [FieldSchema]?

    /// True when the field may be null in some version.
    public var isNullableSomewhere: Bool { !nullableVersions.intersection(versions).isEmpty }
    /// True when the field is tagged in some version.
    public var isTagged: Bool { tag != nil && !taggedVersions.isEmpty }
}

/// A named struct: the message body, an inline struct or a common struct.
public struct StructSchema: Sendable {
    public var name: String
    public var fields: [FieldSchema]
}

/// One schema file.
public struct MessageSchema: Sendable {
    /// "request", "response", "header" or "data".
    public var kind: String
    public var name: String
    public var apiKey: Int?
    public var validVersions: Versions
    public var flexibleVersions: Versions
    public var listeners: [String]
    public var latestVersionUnstable: Bool
    public var fields: [FieldSchema]
    public var commonStructs: [StructSchema]
    /// The schema file's name, e.g. "ProduceRequest.json".
    public var fileName: String

    /// Every struct type the message declares (inline and common), in declaration order, each once.
    public var nestedStructs: [StructSchema] {
        var result: [StructSchema] = []
        var seen: Set<String> = []
        func collect(_ fields: [FieldSchema]) {
            for field in fields {
                guard let inner = field.fields else { continue }
                var typeName = ""
                switch field.type {
                case .structure(let name): typeName = name
                case .array(.structure(let name)): typeName = name
                default: continue
                }
                if !seen.contains(typeName) {
                    seen.insert(typeName)
                    result.append(StructSchema(name: typeName, fields: inner))
                }
                collect(inner)
            }
        }
        collect(fields)
        for common in commonStructs where !seen.contains(common.name) {
            seen.insert(common.name)
            result.append(common)
            collect(common.fields)
        }
        return result
    }

    /// Parses a schema file's text (with `//` comments).
    public init(text: String, fileName: String) throws {
        let stripped = Self.stripComments(text)
        guard let data = stripped.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw CodegenError.invalidSchema("\(fileName) is not a JSON object") }
        self.fileName = fileName
        kind = object["type"] as? String ?? "data"
        guard let name = object["name"] as? String else { throw CodegenError.invalidSchema("\(fileName) has no name") }
        self.name = name
        apiKey = (object["apiKey"] as? NSNumber)?.intValue
        validVersions = try Versions(parsing: object["validVersions"] as? String ?? "none")
        flexibleVersions = try Versions(parsing: object["flexibleVersions"] as? String ?? "none")
        listeners = object["listeners"] as? [String] ?? []
        latestVersionUnstable = (object["latestVersionUnstable"] as? Bool) ?? false
        fields = try Self.parseFields(object["fields"], in: fileName)
        var commons: [StructSchema] = []
        for entry in object["commonStructs"] as? [[String: Any]] ?? [] {
            guard let structName = entry["name"] as? String else { throw CodegenError.invalidSchema("\(fileName): unnamed common struct") }
            commons.append(StructSchema(name: structName, fields: try Self.parseFields(entry["fields"], in: fileName)))
        }
        commonStructs = commons
    }

    static func parseFields(_ value: Any?, in fileName: String) throws -> [FieldSchema] {
        guard let list = value as? [[String: Any]] else { return [] }
        var result: [FieldSchema] = []
        for entry in list {
            guard let name = entry["name"] as? String, let typeText = entry["type"] as? String else {
                throw CodegenError.invalidSchema("\(fileName): field without name or type")
            }
            let tagged = try Versions(parsing: entry["taggedVersions"] as? String ?? "none")
            let versionsText = entry["versions"] as? String
            let versions = try versionsText.map { try Versions(parsing: $0) } ?? tagged
            var defaultText: String?
            if let string = entry["default"] as? String {
                defaultText = string
            } else if let number = entry["default"] as? NSNumber {
                // JSON booleans arrive as NSNumber too; tell them apart by the field type.
                defaultText = typeText == "bool" ? (number.boolValue ? "true" : "false") : number.stringValue
            }
            let inner: [FieldSchema]? = entry["fields"] == nil ? nil : try parseFields(entry["fields"], in: fileName)
            let field = FieldSchema(
                name: name,
                type: FieldType(parsing: typeText),
                versions: versions,
                nullableVersions: try Versions(parsing: entry["nullableVersions"] as? String ?? "none"),
                taggedVersions: tagged,
                tag: (entry["tag"] as? NSNumber)?.intValue,
                ignorable: (entry["ignorable"] as? Bool) ?? false,
                defaultValue: defaultText,
                flexibleVersions: try (entry["flexibleVersions"] as? String).map { try Versions(parsing: $0) },
                entityType: entry["entityType"] as? String,
                about: entry["about"] as? String,
                fields: inner)
            result.append(field)
        }
        return result
    }

    /// Removes `//` comments outside string literals.
    public static func stripComments(_ text: String) -> String {
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                output.append(byte)
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    output.append(bytes[index + 1])
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") { inString = false }
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\"") {
                inString = true
                output.append(byte)
                index += 1
                continue
            }
            if byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            }
            output.append(byte)
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}
