// Topic aliases through Kafka's config APIs, so any admin client manages them (a Runnel extension,
// docs/compatibility.md): IncrementalAlterConfigs / AlterConfigs on a TOPIC resource named after the
// alias set `runnel.alias.target` (create or swap; `runnel.alias.expected.target` makes it a
// compare-and-swap, "" = create only) or delete it (delete the alias); DescribeConfigs on the alias
// shows its target's configs plus `runnel.alias.target`; DescribeConfigs on the BROKER resource with
// the key `runnel.aliases` lists every alias as a JSON object.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster

extension BrokerCore {
    /// The config naming an alias's target.
    static let aliasTargetConfig = "runnel.alias.target"
    /// The target an alias change expects the alias to have now ("" = the alias must not exist).
    static let aliasExpectedTargetConfig = "runnel.alias.expected.target"
    /// The broker config key whose value lists every alias (`{"alias":"target",...}`), only when asked for.
    static let aliasListConfig = "runnel.aliases"

    /// The outcome of a config change on a TOPIC resource that is an alias, or that sets an alias config;
    /// nil when it is an ordinary topic config change (which the topic path answers).
    func applyAliasConfigs(name: String, validateOnly: Bool, logger: Logger, touching: [String],
                           change: ([String: String]) throws -> [String: String]) async -> (code: ErrorCode, message: String?)? {
        let image = metadataStore.image
        let aliasKeys: Set<String> = [Self.aliasTargetConfig, Self.aliasExpectedTargetConfig]
        let touchesAlias = touching.contains(where: aliasKeys.contains)
        if image.topic(named: name) != nil {
            guard touchesAlias else { return nil }
            let refusal = TopicAliasError.nameIsTopic(name)
            return (refusal.errorCode, refusal.description)
        }
        let current = image.alias(named: name)
        let next: [String: String]
        do {
            next = try change(current.map { [Self.aliasTargetConfig: $0.target] } ?? [:])
        } catch let error as TopicCreationError {
            return (error.errorCode, error.message)
        } catch {
            return (.invalidConfig, "\(error)")
        }
        guard current != nil || touchesAlias else { return nil }
        if let other = next.keys.sorted().first(where: { !aliasKeys.contains($0) }) {
            return (.invalidConfig, "'\(name)' is an alias: only \(Self.aliasTargetConfig) and \(Self.aliasExpectedTargetConfig) "
                        + "apply to it, not \(other); alter the configs of its target" + (current.map { " '\($0.target)'" } ?? "") + ".")
        }
        let expected = next[Self.aliasExpectedTargetConfig]
        let aliasChange: TopicAliasChange = next[Self.aliasTargetConfig].map { .point(name, to: $0, expectedTarget: expected) }
            ?? .delete(name, expectedTarget: expected)
        return await applyAliasChange(aliasChange, validateOnly: validateOnly, logger: logger)
    }

    /// Writes one alias change as a compare-and-swap on the alias record: of two changes racing from the
    /// same image exactly one is applied; the other is refused saying what the alias points to now.
    func applyAliasChange(_ change: TopicAliasChange, validateOnly: Bool, logger: Logger) async -> (code: ErrorCode, message: String?) {
        do throws(TopicAliasError) {
            let write = try TopicAliasRules.write(for: change, in: metadataStore.image)
            guard !validateOnly else { return (.none, nil) }
            do throws(MetadataStoreError) {
                try await metadataStore.writeRecords([write])
            } catch {
                guard case .recordVersionMismatch = error else { return (error.errorCode, error.description) }
                // Lost the race: explain against what won (an expectation that no longer holds), else say retry.
                _ = try TopicAliasRules.write(for: change, in: metadataStore.image)
                throw .changedConcurrently(change.name)
            }
            let target = metadataStore.image.alias(named: change.name)?.target ?? "-"
            logger.info("changed topic alias", metadata: ["alias": "\(change.name)", "target": "\(target)"])
            return (.none, nil)
        } catch {
            return (error.errorCode, error.description)
        }
    }

    /// The partition a client's topic name means, with the concrete topic's name: the topic's own hosted
    /// partition (no lookup beyond it: the fetch path stays as it was), else — for an alias — its
    /// target's.
    func clientPartition(topic name: String, index: Int32) -> (topic: String, partition: Partition?) {
        if let partition = replicas.partition(topic: name, index: index) { return (name, partition) }
        guard let target = metadataStore.image.alias(named: name)?.target else { return (name, nil) }
        return (target, replicas.partition(topic: target, index: index))
    }

    /// The DescribeConfigs entry of an alias (`runnel.alias.target`) when `name` is an alias and the
    /// keys ask for it; empty otherwise.
    func aliasConfigEntries(name: String, keys: [String]?) -> [ConfigEntry] {
        guard let alias = metadataStore.image.alias(named: name),
              keys?.isEmpty ?? true || keys?.contains(Self.aliasTargetConfig) == true else { return [] }
        return [ConfigEntry(name: Self.aliasTargetConfig, value: alias.target, source: .dynamicTopicConfig,
                            isReadOnly: false, isSensitive: false, type: .string,
                            documentation: "Runnel extension: the topic this alias resolves to (set it to swap).",
                            synonyms: [])]
    }

    /// The `runnel.aliases` entry of a BROKER resource, only when the keys name it (never in a full listing).
    func aliasListEntries(keys: [String]?) -> [ConfigEntry] {
        guard keys?.contains(Self.aliasListConfig) == true else { return [] }
        var list: [String: String] = [:]
        for alias in metadataStore.image.aliases { list[alias.name] = alias.target }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(list)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [ConfigEntry(name: Self.aliasListConfig, value: json, source: .dynamicBrokerConfig,
                            isReadOnly: true, isSensitive: false, type: .string,
                            documentation: "Runnel extension: every topic alias and its target, as a JSON object.",
                            synonyms: [])]
    }
}
