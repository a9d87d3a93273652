// Parses the times users type: ISO 8601 instants, relative times like `-1h`, `now`, or `@<millis>`.
import Foundation

/// Errors from parsing a user-typed time or position.
public struct TimeParseError: Error, Sendable, CustomStringConvertible {
    public var input: String
    public var description: String {
        "cannot read '\(input)' as a time (use ISO 8601 like 2026-01-01T00:00:00Z, a relative time like -1h, -30m, -2d, or @<epoch-millis>)"
    }
}

/// Converts user-typed times into milliseconds since the Unix epoch.
public enum TimestampParser {
    /// Milliseconds since the epoch now.
    public static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// Parses `text` relative to `now` (milliseconds since the epoch).
    ///
    /// Accepted: `now`; `-<n><unit>` with unit `ms`, `s`, `m`, `h`, `d`, `w` (that long before now, e.g.
    /// `-1h`, `-90s`); `+<n><unit>` (after now); `@<millis>` (an epoch timestamp in milliseconds);
    /// ISO 8601 date-times with `Z` or an offset and optional fractional seconds
    /// (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.250+01:00`) and plain dates (`2026-01-01`, midnight UTC).
    public static func parse(_ text: String, now: Int64 = nowMilliseconds()) throws(TimeParseError) -> Int64 {
        let input = text.trimmingCharacters(in: .whitespaces)
        if input.lowercased() == "now" { return now }
        if input.hasPrefix("@") {
            guard let millis = Int64(input.dropFirst()) else { throw TimeParseError(input: text) }
            return millis
        }
        if let first = input.first, first == "-" || first == "+" {
            guard let duration = relativeDuration(String(input.dropFirst())) else { throw TimeParseError(input: text) }
            return first == "-" ? now - duration : now + duration
        }
        if let millis = iso8601(input) { return millis }
        throw TimeParseError(input: text)
    }

    /// True when `text` looks like a relative duration with a unit (`1h`, `30m`), not a bare number.
    public static func isRelative(_ text: String) -> Bool {
        guard let first = text.first, first == "-" || first == "+" else { return false }
        return relativeDuration(String(text.dropFirst())) != nil
    }

    /// Milliseconds in `<n><unit>`; nil when the unit is missing or unknown.
    static func relativeDuration(_ text: String) -> Int64? {
        let digits = text.prefix(while: { $0.isNumber || $0 == "." })
        let unit = text.dropFirst(digits.count).lowercased()
        guard !digits.isEmpty, let amount = Double(digits) else { return nil }
        let scale: Double
        switch unit {
        case "ms": scale = 1
        case "s", "sec", "secs": scale = 1000
        case "m", "min", "mins": scale = 60_000
        case "h", "hr", "hrs": scale = 3_600_000
        case "d", "day", "days": scale = 86_400_000
        case "w", "week", "weeks": scale = 604_800_000
        default: return nil
        }
        let millis = amount * scale
        guard millis.isFinite, millis < 9.0e15 else { return nil }
        return Int64(millis.rounded())
    }

    /// ISO 8601 instants, with or without fractional seconds, and plain dates (UTC).
    static func iso8601(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return millis(date) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return millis(date) }
        formatter.formatOptions = [.withFullDate]
        if text.count == 10, let date = formatter.date(from: text) { return millis(date) }
        return nil
    }

    private static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Formats epoch milliseconds as ISO 8601 UTC with milliseconds (`2026-01-01T00:00:00.000Z`).
    public static func format(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}
