// AlterConfigs / IncrementalAlterConfigs / DescribeConfigs on BROKER resources: the dynamic broker
// configs (DynamicBrokerConfigs.swift), stored as `broker-config` records so every broker applies them.
import KafkaProtocol
import Logging
import RunnelCluster

extension BrokerCore {
    /// Validates and stores the dynamic configs of a BROKER resource ("" = the cluster-wide default, or
    /// a node id — any registered or future broker, as Kafka's controller accepts); `change` turns the
    /// stored values into the new ones (AlterConfigs replaces them all, IncrementalAlterConfigs edits).
    func applyDynamicBrokerConfigs(name: String, validateOnly: Bool, logger: Logger,
                                   change: ([String: String]) throws -> [String: String]) async -> (code: ErrorCode, message: String?) {
        guard let key = DynamicBrokerConfigs.recordKey(resourceName: name) else {
            return (.invalidRequest, "Broker resource name '\(name)' is neither a broker id nor empty (the cluster-wide default).")
        }
        for attempt in 0..<5 {
            let image = metadataStore.image
            let current = image.record(.brokerConfig, key: key)
            let stored = DynamicBrokerConfigs.values(image, key: key)
            let next: [String: String]
            do {
                next = try change(stored)
            } catch let error as TopicCreationError {
                return (error.errorCode, error.message)
            } catch {
                return (.invalidConfig, "\(error)")
            }
            if let failure = DynamicBrokerConfigs.validate(next) { return (failure.code, failure.message) }
            guard !validateOnly else { return (.none, nil) }
            let write: ClusterRecordWrite?
            if next.isEmpty {
                write = current.map { .delete(.brokerConfig, key: key, expectedVersion: $0.version) }
            } else {
                write = .put(.brokerConfig, key: key, value: DynamicBrokerConfigs.json(next), expectedVersion: current?.version ?? 0)
            }
            guard let write else { return (.none, nil) }
            do {
                try await metadataStore.writeRecords([write])
                logger.info("altered dynamic broker configs", metadata: [
                    "broker": "\(name.isEmpty ? "<default>" : name)", "configs": "\(next)"])
                return (.none, nil)
            } catch {
                if case .recordVersionMismatch = error, attempt < 4 { continue }
                return (error.errorCode, error.description)
            }
        }
        return (.none, nil)
    }

    /// `entries` (this broker's settings) with the dynamic values in force: for a node id its own, else
    /// the default (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG); for "" the default only.
    /// Dynamic settings are not read-only; their synonyms list the dynamic sources first.
    func withDynamicBrokerConfigs(_ entries: [ConfigEntry], resourceName: String, includeSynonyms: Bool) -> [ConfigEntry] {
        let image = metadataStore.image
        let own = resourceName.isEmpty ? [:] : DynamicBrokerConfigs.values(image, key: String(settings.nodeId))
        let defaults = DynamicBrokerConfigs.values(image, key: DynamicBrokerConfigs.defaultKey)
        return entries.map { entry in
            guard DynamicBrokerConfigs.names.contains(entry.name) else { return entry }
            var entry = entry
            entry.isReadOnly = false
            var dynamic: [ConfigSynonymEntry] = []
            if let value = own[entry.name] { dynamic.append(.init(name: entry.name, value: value, source: .dynamicBrokerConfig)) }
            if let value = defaults[entry.name] {
                dynamic.append(.init(name: entry.name, value: value, source: .dynamicDefaultBrokerConfig))
            }
            if let first = dynamic.first {
                entry.value = first.value
                entry.source = first.source
            }
            if includeSynonyms { entry.synonyms = dynamic + entry.synonyms }
            return entry
        }
    }
}
