// ConsoleRequest: a console URL taken apart — the path and the decoded query parameters.

/// A GET request to the console: its path and its query parameters (percent- and `+`-decoded; the
/// last value wins for a repeated key). Bad escapes are kept as typed, never a crash.
struct ConsoleRequest: Sendable {
    var path: String
    var query: [String: String]

    /// The path and query of `uri`; with `form`, the fields of a POSTed form are read as well (they win
    /// over query parameters of the same name).
    init(uri: String, form: String = "") {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map { String($0) } ?? "/"
        var query: [String: String] = [:]
        for encoded in (parts.count > 1 ? [parts[1]] : []) + [form[...]] where !encoded.isEmpty {
            for pair in encoded.split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.decode(keyValue[0])
                query[key] = keyValue.count > 1 ? Self.decode(keyValue[1]) : ""
            }
        }
        self.query = query
    }

    /// A parameter, nil when absent or empty.
    subscript(_ key: String) -> String? {
        guard let value = query[key], !value.isEmpty else { return nil }
        return value
    }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let high = hexValue(iterator[iterator.startIndex]),
                      let low = hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
