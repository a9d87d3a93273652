// Where a consumer starts reading a partition, parsed from what a user types after `--from`.

/// A starting position in a partition.
public enum StartPosition: Sendable, Equatable {
    /// The log start offset.
    case beginning
    /// The log end offset (only records produced from now on).
    case end
    /// An absolute offset.
    case offset(Int64)
    /// `count` records before the log end offset (kcat's `-o -N`).
    case fromEnd(Int64)
    /// The first offset whose timestamp is at or after this many milliseconds since the epoch.
    case timestamp(Int64)

    /// Parses `beginning`/`earliest`, `end`/`latest`, an offset (`42`), a count before the end (`-5`),
    /// or a time that `TimestampParser` reads (`2026-01-01T00:00:00Z`, `-1h`, `@1767225600000`).
    public static func parse(_ text: String, now: Int64 = TimestampParser.nowMilliseconds())
        throws(TimeParseError) -> StartPosition {
        switch text.lowercased() {
        case "beginning", "earliest", "start": return .beginning
        case "end", "latest": return .end
        default: break
        }
        if let offset = Int64(text) {
            return offset >= 0 ? .offset(offset) : .fromEnd(-offset)
        }
        return .timestamp(try TimestampParser.parse(text, now: now))
    }
}
