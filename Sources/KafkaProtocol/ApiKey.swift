// ApiKey: the Kafka API key as data; constants, names and version ranges are generated from the
// schemas into Generated/ApiKey+Metadata.swift.

/// A Kafka API key. Unknown keys stay representable so a header with a key this build does not know
/// still decodes (and can be answered with UNSUPPORTED_VERSION).
public struct ApiKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int16

    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// Schema metadata of one API.
    struct Metadata: Sendable {
        let name: String
        let validVersions: ClosedRange<Int16>?
        let flexibleFrom: Int16?
        let listeners: [String]
        let latestVersionUnstable: Bool
    }

    /// True when the key is in this build's table.
    public var isKnown: Bool { Self.metadata(for: rawValue) != nil }

    /// The API's name, e.g. "Produce"; "Unknown(<key>)" if not in the table.
    public var name: String { Self.metadata(for: rawValue)?.name ?? "Unknown(\(rawValue))" }

    /// The versions the schemas define (Kafka 4.x), or nil for a retired or unknown API.
    public var validVersions: ClosedRange<Int16>? { Self.metadata(for: rawValue)?.validVersions }

    /// The first flexible version (compact encodings, tagged fields), or nil if never flexible.
    public var flexibleFrom: Int16? { Self.metadata(for: rawValue)?.flexibleFrom }

    /// The listeners the API is served on in Kafka ("broker", "controller").
    public var listeners: [String] { Self.metadata(for: rawValue)?.listeners ?? [] }

    /// True when the highest valid version is still marked unstable in the schema (Kafka does
    /// not advertise it by default).
    public var latestVersionUnstable: Bool { Self.metadata(for: rawValue)?.latestVersionUnstable ?? false }

    /// True when Kafka brokers (not only KRaft controllers) serve this API.
    public var isBrokerAPI: Bool { listeners.contains("broker") }

    /// True when `version` of this API uses the flexible encodings.
    public func isFlexible(version: Int16) -> Bool {
        guard let from = flexibleFrom else { return false }
        return version >= from
    }

    /// True when `version` is within `validVersions`.
    public func supports(version: Int16) -> Bool {
        validVersions?.contains(version) ?? false
    }

    public var description: String { "\(name)(\(rawValue))" }
}
