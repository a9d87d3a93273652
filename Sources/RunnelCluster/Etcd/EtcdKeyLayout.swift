// EtcdKeyLayout: where each piece of cluster metadata lives in etcd, under the cluster's prefix
// (docs/operations.md lists the layout).
import KafkaProtocol

/// The keys of one cluster. Every key is `<prefix>/...`, so several clusters can share one etcd.
///
/// | key | value | lifetime |
/// |---|---|---|
/// | `<prefix>/cluster_id` | `{"cluster_id"}` | created once |
/// | `<prefix>/brokers/<node id>` | `BrokerRegistration` | the broker's lease |
/// | `<prefix>/controller` | `{"node_id","incarnation_id"}` | the controller's lease |
/// | `<prefix>/topics/<name>` | topic record with its replica assignment | until deleted |
/// | `<prefix>/partitions/<topic>/<partition>` | `PartitionState` + topic id | from its first change; absent = initial |
/// | `<prefix>/producer_ids` | `{"next_block_start"}` | grows |
/// | `<prefix>/records/<kind>/<key>` | the record's value as written (`ClusterRecord`) | until deleted |
public struct EtcdKeyLayout: Sendable, Equatable {
    /// The cluster's prefix without a trailing slash, e.g. `/runnel`.
    public let prefix: String

    /// A layout under `prefix` (a trailing slash is dropped; an empty prefix means the root).
    public init(prefix: String) {
        var normalized = prefix
        while normalized.hasSuffix("/") { normalized.removeLast() }
        self.prefix = normalized
    }

    /// Everything of this cluster: `<prefix>/` (the slash keeps `/runnel2` out of `/runnel`).
    public var root: String { prefix + "/" }
    public var clusterId: String { prefix + "/cluster_id" }
    public var controller: String { prefix + "/controller" }
    public var producerIds: String { prefix + "/producer_ids" }
    public var brokersPrefix: String { prefix + "/brokers/" }
    public var topicsPrefix: String { prefix + "/topics/" }
    public var partitionsPrefix: String { prefix + "/partitions/" }
    public var recordsPrefix: String { prefix + "/records/" }

    public func broker(_ nodeId: Int32) -> String { brokersPrefix + String(nodeId) }
    public func topic(_ name: String) -> String { topicsPrefix + name }
    /// Every partition key of one topic (topic names never contain `/`).
    public func partitions(of topic: String) -> String { partitionsPrefix + topic + "/" }
    public func partition(_ partition: TopicPartition) -> String { partitions(of: partition.topic) + String(partition.partition) }
    /// A cluster record (a kind never contains `/`; the key may, and is everything after the kind's slash).
    public func record(_ kind: ClusterRecordKind, key: String) -> String { recordsPrefix + kind.rawValue + "/" + key }

    /// What a key of this cluster is.
    enum Key: Equatable {
        case clusterId
        case controller
        case producerIds
        case broker(Int32)
        case topic(String)
        case partition(TopicPartition)
        case record(ClusterRecordKind, String)
        case unknown
    }

    func classify(_ key: String) -> Key {
        guard key.hasPrefix(root) else { return .unknown }
        let rest = key.dropFirst(root.count)
        switch rest {
        case "cluster_id": return .clusterId
        case "controller": return .controller
        case "producer_ids": return .producerIds
        default: break
        }
        if rest.hasPrefix("brokers/") {
            return Int32(rest.dropFirst("brokers/".count)).map(Key.broker) ?? .unknown
        }
        if rest.hasPrefix("topics/") {
            let name = rest.dropFirst("topics/".count)
            return name.isEmpty || name.contains("/") ? .unknown : .topic(String(name))
        }
        if rest.hasPrefix("partitions/") {
            let parts = rest.dropFirst("partitions/".count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let index = Int32(parts[1]), index >= 0 else { return .unknown }
            return .partition(TopicPartition(topic: String(parts[0]), partition: index))
        }
        if rest.hasPrefix("records/") {
            let path = rest.dropFirst("records/".count)
            guard let slash = path.firstIndex(of: "/") else { return .unknown }
            let kind = ClusterRecordKind(rawValue: String(path[..<slash]))
            let key = String(path[path.index(after: slash)...])
            return kind.isValid && !key.isEmpty ? .record(kind, key) : .unknown
        }
        return .unknown
    }
}
