// ErrorCode: Kafka's int16 error codes as data (name, retriability, message); the table is in
// ErrorCode+Table.swift.

/// A Kafka error code as carried in responses. Unknown codes stay representable (`rawValue`), so a
/// client can pass through codes newer than this table.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int16

    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// One row of the error table.
    struct Entry: Sendable {
        let code: Int16
        let name: String
        let isRetriable: Bool
        let message: String
    }

    private var entry: Entry? {
        // The table is dense from -1 upwards, so the row index is the code + 1.
        let index = Int(rawValue) + 1
        guard index >= 0, index < Self.table.count else { return nil }
        let row = Self.table[index]
        return row.code == rawValue ? row : nil
    }

    /// Kafka's name for the code, e.g. "UNKNOWN_TOPIC_OR_PARTITION"; "UNKNOWN_<code>" if not in the table.
    public var name: String { entry?.name ?? "UNKNOWN_\(rawValue)" }

    /// True when a client may retry the request unchanged (Kafka's `RetriableException` subclasses).
    public var isRetriable: Bool { entry?.isRetriable ?? false }

    /// A one-sentence description of the error.
    public var message: String { entry?.message ?? "Unknown error code \(rawValue)." }

    /// True for every code except `.none`.
    public var isError: Bool { rawValue != 0 }

    /// Every code in the table, ascending.
    public static var all: [ErrorCode] { table.map { ErrorCode(rawValue: $0.code) } }

    /// Looks a code up by Kafka's name ("NOT_LEADER_OR_FOLLOWER").
    public init?(name: String) {
        guard let row = Self.table.first(where: { $0.name == name }) else { return nil }
        self.init(rawValue: row.code)
    }

    public var description: String { "\(name) (\(rawValue))" }
}
