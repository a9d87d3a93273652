// IsolationLevel: Kafka's `isolation.level`, as Fetch and ListOffsets carry it on the wire.

/// Which records a reader may see: everything below the high watermark, or only below the last
/// stable offset with aborted transactions filtered (Kafka's `IsolationLevel`, wire values 0 and 1).
public enum IsolationLevel: Int8, Sendable, Hashable, Codable {
    /// `read_uncommitted`: up to the high watermark.
    case readUncommitted = 0
    /// `read_committed`: up to the last stable offset.
    case readCommitted = 1

    /// The level a request's `IsolationLevel` field names; any value other than 1 reads uncommitted, as in Kafka.
    public init(wireValue: Int8) {
        self = wireValue == IsolationLevel.readCommitted.rawValue ? .readCommitted : .readUncommitted
    }

    /// Parses `read_uncommitted` / `read_committed` (also `uncommitted`, `committed`, dashes for underscores).
    public init?(name: String) {
        switch String(name.lowercased().map { $0 == "-" ? "_" : $0 }) {
        case "read_uncommitted", "uncommitted": self = .readUncommitted
        case "read_committed", "committed": self = .readCommitted
        default: return nil
        }
    }
}
