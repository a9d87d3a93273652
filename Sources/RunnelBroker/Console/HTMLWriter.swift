// HTMLWriter: builds the console's pages. Text and attribute values are always escaped; only
// compile-time literals (`StaticString`) are written as markup, so data can never become markup.

/// Appends HTML to a string. Tag names, attribute names and raw markup are `StaticString`s (literals in
/// this module); every `String` — topic names, keys, values, headers, errors — goes through `escape`.
struct HTMLWriter {
    private(set) var output = ""

    init(reservingCapacity capacity: Int = 8192) {
        output.reserveCapacity(capacity)
    }

    /// Trusted markup written by this module (a literal).
    mutating func raw(_ markup: StaticString) {
        output += markup.description
    }

    /// Text, escaped.
    mutating func text(_ text: String) {
        output += Self.escape(text)
    }

    /// `<tag attr="value" …>`, values escaped.
    mutating func open(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String> = [:]) {
        output += "<"
        output += tag.description
        for (name, value) in attributes {
            output += " "
            output += name.description
            output += "=\""
            output += Self.escape(value)
            output += "\""
        }
        output += ">"
    }

    mutating func close(_ tag: StaticString) {
        output += "</"
        output += tag.description
        output += ">"
    }

    /// `<tag>text</tag>`.
    mutating func element(_ tag: StaticString, _ text: String) {
        element(tag, [:], text)
    }

    /// `<tag …>text</tag>`.
    mutating func element(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String>, _ text: String) {
        open(tag, attributes)
        self.text(text)
        close(tag)
    }

    /// `<tag …>` body `</tag>`.
    mutating func element(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String> = [:],
                          body: (inout HTMLWriter) -> Void) {
        open(tag, attributes)
        body(&self)
        close(tag)
    }

    /// A link to `path` with `query` parameters (percent-encoded), showing `label`.
    mutating func link(_ label: String, to path: StaticString, _ query: KeyValuePairs<String, String> = [:]) {
        element("a", ["href": Self.url(path, query)], label)
    }

    /// A table row of text cells.
    mutating func row(_ cells: [String]) {
        open("tr")
        for cell in cells { element("td", cell) }
        close("tr")
    }

    /// A header row.
    mutating func headerRow(_ cells: [String]) {
        open("tr")
        for cell in cells { element("th", cell) }
        close("tr")
    }

    /// `path?key=value&…`, each part percent-encoded (the result still goes through `escape` in attributes).
    static func url(_ path: StaticString, _ query: KeyValuePairs<String, String>) -> String {
        var url = path.description
        var separator = "?"
        for (key, value) in query {
            url += separator + percentEncode(key) + "=" + percentEncode(value)
            separator = "&"
        }
        return url
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Escapes `& < > " '` (safe in text and in double-quoted attributes).
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
                                          || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
