// SwiftNames: schema names to Swift identifiers and literals.

/// Naming rules from schema names to Swift.
public enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows", "static",
        "struct", "subscript", "typealias", "var", "break", "case", "continue", "default", "defer", "do",
        "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while",
        "as", "catch", "false", "is", "nil", "super", "self", "Self", "throw", "throws", "true", "try",
        "any", "some", "Type", "Protocol",
    ]

    /// lowerCamelCase of a schema field name: "ThrottleTimeMs" → "throttleTimeMs", "IsrNodes" →
    /// "isrNodes", "ISRNodes" → "isrNodes"; names already in lowerCamelCase stay as they are.
    public static func lowerCamel(_ name: String) -> String {
        let characters = Array(name)
        var upperRun = 0
        while upperRun < characters.count && characters[upperRun].isUppercase { upperRun += 1 }
        if upperRun == 0 { return name }
        var lowerCount = upperRun
        // In "ISRNodes" the N starts the next word; keep it upper unless the run ends the name.
        if upperRun > 1 && upperRun < characters.count && characters[upperRun].isLowercase { lowerCount = upperRun - 1 }
        var result = ""
        for (index, character) in characters.enumerated() {
            result.append(index < lowerCount ? Character(character.lowercased()) : character)
        }
        return result
    }

    /// A property identifier, back-ticked when it is a Swift keyword.
    public static func property(_ schemaName: String) -> String {
        let name = lowerCamel(schemaName)
        return keywords.contains(name) ? "`\(name)`" : name
    }

    /// A Swift string literal for `text`.
    public static func stringLiteral(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// One-line doc text from a schema `about`.
    public static func doc(_ about: String?) -> String {
        guard let about, !about.isEmpty else { return "" }
        return about.split(whereSeparator: { $0.isNewline }).joined(separator: " ")
    }
}
