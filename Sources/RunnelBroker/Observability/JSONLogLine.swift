// JSONLogLine: one log event as one JSON object on one line (`log.format = json`).
import Logging

/// How the broker writes its log lines (`log.format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `time level logger: message key=value …`, for people.
    case text
    /// One JSON object per line, for log shippers.
    case json
}

/// Renders `{"time":"…","level":"info","logger":"runnel.broker","message":"…","key":"value",…}`. Metadata
/// keys are top-level fields, sorted; one that collides with a fixed field is written with a leading `_`.
enum JSONLogLine {
    static let fixedFields: Set<String> = ["time", "level", "logger", "message"]

    static func render(time: String, level: String, logger: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"time\":"
        appendString(time, to: &line)
        line += ",\"level\":"
        appendString(level, to: &line)
        line += ",\"logger\":"
        appendString(logger, to: &line)
        line += ",\"message\":"
        appendString(message, to: &line)
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            line += ","
            appendString(fixedFields.contains(key) ? "_" + key : key, to: &line)
            line += ":"
            appendString("\(value)", to: &line)
        }
        line += "}\n"
        return line
    }

    /// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
