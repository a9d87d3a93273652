// DynamicBrokerConfigs: the broker settings AlterConfigs / IncrementalAlterConfigs may change at runtime
// (Kafka's DynamicBrokerConfig), for now the replication throttle rates. They are kept as cluster records
// of kind `broker-config` in the metadata store (the local file on one node, etcd in a cluster): key =
// a broker's node id for its own values, `default` for the cluster-wide default (Kafka's resource name
// ""). Every broker follows the records and applies, for each setting, its own value, else the default,
// else its config file's, else the built-in default (Kafka's order: DYNAMIC_BROKER_CONFIG,
// DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG); they survive restarts with the store.
import Foundation
import KafkaProtocol
import RunnelCluster

extension ClusterRecordKind {
    /// Dynamic broker configs: key = node id, or `default` (DynamicBrokerConfigs.swift).
    static let brokerConfig: ClusterRecordKind = "broker-config"
}

/// The dynamic broker settings and how they resolve.
enum DynamicBrokerConfigs {
    /// The broker settings that can be changed at runtime.
    static let names: Set<String> = [
        BrokerSetting.leaderReplicationThrottledRate.rawValue, BrokerSetting.followerReplicationThrottledRate.rawValue,
    ]
    /// The record key of the cluster-wide default (Kafka's BROKER resource named "").
    static let defaultKey = "default"

    /// The record key of a BROKER resource: "" → the default, a node id → itself; nil for anything else.
    static func recordKey(resourceName: String) -> String? {
        if resourceName.isEmpty { return defaultKey }
        guard let id = Int32(resourceName), id >= 0 else { return nil }
        return String(id)
    }

    /// The values stored under `key` (empty when none, or when the record does not decode).
    static func values(_ image: MetadataImage, key: String) -> [String: String] {
        guard let record = image.record(.brokerConfig, key: key), let data = record.value.data(using: .utf8),
              let decoded = try? JSONDecoder().decode([String: String].self, from: data) else { return [:] }
        return decoded
    }

    static func json(_ values: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The dynamic value of `name` for broker `nodeId` and where it comes from; nil when neither the
    /// broker's own record nor the default sets it.
    static func dynamicValue(_ name: String, nodeId: Int32, image: MetadataImage) -> (value: String, source: ConfigSource)? {
        if let value = values(image, key: String(nodeId))[name] { return (value, .dynamicBrokerConfig) }
        if let value = values(image, key: defaultKey)[name] { return (value, .dynamicDefaultBrokerConfig) }
        return nil
    }

    /// The rate in force for `setting` on broker `nodeId`: dynamic, else the config file's, else the default.
    static func rate(_ setting: BrokerSetting, nodeId: Int32, image: MetadataImage, config: BrokerConfig) -> Int64 {
        if let dynamic = dynamicValue(setting.rawValue, nodeId: nodeId, image: image),
           let value = ConfigTable.broker[setting.rawValue]?.parse(dynamic.value)?.intValue {
            return value
        }
        return config.int(setting)
    }

    /// Checks new values for a resource: only dynamic settings (others: INVALID_REQUEST, as Kafka answers
    /// for a setting it cannot change at runtime), each a valid value (INVALID_CONFIG).
    static func validate(_ values: [String: String]) -> (code: ErrorCode, message: String)? {
        for (name, text) in values.sorted(by: { $0.key < $1.key }) {
            guard names.contains(name) else {
                let known = ConfigTable.broker[name] != nil ? "Broker config \(name) cannot be changed at runtime by Runnel"
                    : "Unknown broker config \(name)"
                return (.invalidRequest, "\(known); the dynamic broker configs are \(names.sorted().joined(separator: ", ")). Edit the config file and restart for the others.")
            }
            guard let definition = ConfigTable.broker[name], let value = definition.parse(text) else {
                return (.invalidConfig, "Invalid value \(text) for configuration \(name): not a number")
            }
            if let reason = definition.violation(of: value) {
                return (.invalidConfig, "Invalid value \(text) for configuration \(name): \(reason)")
            }
        }
        return nil
    }
}

extension Broker {
    /// Applies the dynamic broker configs now and after every change of them (or a reload of the
    /// store); returns the following task.
    func startDynamicBrokerConfigs() -> Task<Void, Never> {
        let core = core
        let config = config
        let apply: @Sendable (MetadataImage) -> Void = { image in
            let nodeId = core.settings.nodeId
            let leader = DynamicBrokerConfigs.rate(.leaderReplicationThrottledRate, nodeId: nodeId, image: image, config: config)
            let follower = DynamicBrokerConfigs.rate(.followerReplicationThrottledRate, nodeId: nodeId, image: image, config: config)
            if core.replicas.leaderThrottle.rate != leader {
                core.replicas.leaderThrottle.setRate(leader)
                core.logger.info("replication throttle rate changed", metadata: [
                    "config": "leader.replication.throttled.rate", "rate": "\(leader)"])
            }
            if let throttle = core.replication?.fetchers.throttle, throttle.rate != follower {
                throttle.setRate(follower)
                core.logger.info("replication throttle rate changed", metadata: [
                    "config": "follower.replication.throttled.rate", "rate": "\(follower)"])
            }
        }
        apply(core.metadataStore.image)
        let store = core.metadataStore
        return Task { await store.followRecords(.brokerConfig, apply) }
    }
}
