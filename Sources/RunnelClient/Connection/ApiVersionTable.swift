// The API versions a broker offers, and the choice of the highest version both sides speak.
import KafkaProtocol

/// Version ranges per API key, as advertised by a broker in its ApiVersions response.
public struct ApiVersionTable: Sendable {
    /// Broker ranges by API key.
    public private(set) var ranges: [Int16: ClosedRange<Int16>]

    public init(ranges: [Int16: ClosedRange<Int16>]) {
        self.ranges = ranges
    }

    /// Upper bounds this client holds itself to, below the schemas' maximum, where a newer version would
    /// change what the client must send (OffsetCommit/OffsetFetch v10+ belong to the new consumer group
    /// protocol). Produce and Fetch go to the schemas' maximum: v13+ name topics by id, which the producer
    /// and consumer resolve from metadata (falling back to v12 when a topic id is unknown).
    static let clientCaps: [Int16: Int16] = [
        ApiKey.offsetCommit.rawValue: 9,
        ApiKey.offsetFetch.rawValue: 9,
    ]

    /// The versions this client can encode for `api`: the schemas' range, capped where noted.
    public static func clientRange(for api: ApiKey) -> ClosedRange<Int16>? {
        guard let valid = api.validVersions else { return nil }
        let cap = clientCaps[api.rawValue].map { Swift.min($0, valid.upperBound) } ?? valid.upperBound
        return valid.lowerBound <= cap ? valid.lowerBound...cap : nil
    }

    /// The highest version both this client and the broker speak, or nil if there is none.
    public func negotiatedVersion(for api: ApiKey) -> Int16? {
        guard let broker = ranges[api.rawValue], let client = Self.clientRange(for: api) else { return nil }
        let high = Swift.min(broker.upperBound, client.upperBound)
        let low = Swift.max(broker.lowerBound, client.lowerBound)
        return low <= high ? high : nil
    }

    /// The highest version both sides speak, but at most `limit` (nil when none is left).
    public func negotiatedVersion(for api: ApiKey, atMost limit: Int16) -> Int16? {
        guard let broker = ranges[api.rawValue], let client = Self.clientRange(for: api) else { return nil }
        let high = Swift.min(broker.upperBound, client.upperBound, limit)
        let low = Swift.max(broker.lowerBound, client.lowerBound)
        return low <= high ? high : nil
    }

    /// True when the broker advertises `api` at all.
    public func supports(_ api: ApiKey) -> Bool { negotiatedVersion(for: api) != nil }
}
