// ConfigEntry: a setting as DescribeConfigs reports it (value, source, synonyms), for brokers and topics.
import KafkaProtocol

/// One synonym of a described setting (DescribeConfigs `synonyms`), highest priority first.
public struct ConfigSynonymEntry: Sendable, Equatable {
    /// The synonym's name (e.g. `log.retention.hours` for `retention.ms`).
    public var name: String
    /// Its value in its own unit, nil for sensitive settings.
    public var value: String?
    /// Where it is set.
    public var source: ConfigSource
}

/// A described setting: everything a DescribeConfigs result entry carries.
public struct ConfigEntry: Sendable, Equatable {
    /// The setting's name.
    public var name: String
    /// The effective value, nil when sensitive or unset.
    public var value: String?
    /// Where the effective value comes from.
    public var source: ConfigSource
    /// True when it cannot be changed with AlterConfigs (static broker settings).
    public var isReadOnly: Bool
    /// True for secrets.
    public var isSensitive: Bool
    /// The setting's type.
    public var type: ConfigType
    /// The one-line documentation.
    public var documentation: String
    /// The settings contributing to the value, highest priority first.
    public var synonyms: [ConfigSynonymEntry]

    /// True when the value is the built-in default.
    public var isDefault: Bool { source == .defaultConfig }
}

extension BrokerConfig {
    /// Describes every broker setting (DescribeConfigs on a BROKER resource).
    public func describeBrokerConfigs() -> [ConfigEntry] {
        ConfigTable.brokerDefinitions.map { definition in
            let resolved = resolved(definition.name)
            var synonyms: [ConfigSynonymEntry] = []
            if let value = explicitValues[definition.name] {
                synonyms.append(entry(definition.name, value, .staticBrokerConfig, sensitive: definition.isSensitive))
            }
            appendSynonyms(of: definition, to: &synonyms, includingDefault: definition.defaultValue == nil)
            if let value = definition.defaultValue {
                synonyms.append(entry(definition.name, value, .defaultConfig, sensitive: definition.isSensitive))
            }
            return ConfigEntry(
                name: definition.name, value: definition.isSensitive ? nil : resolved?.value.description,
                source: resolved?.source ?? .defaultConfig, isReadOnly: true, isSensitive: definition.isSensitive,
                type: definition.type, documentation: definition.documentation, synonyms: synonyms)
        }
    }

    /// Describes a topic's settings given its stored overrides (DescribeConfigs on a TOPIC resource).
    public func describeTopicConfigs(overrides: [String: ConfigValue]) -> [ConfigEntry] {
        ConfigTable.topicDefinitions.map { definition in
            let resolved = resolvedTopicValue(definition.name, overrides: overrides)
            var synonyms: [ConfigSynonymEntry] = []
            if let value = overrides[definition.name] {
                synonyms.append(entry(definition.name, value, .dynamicTopicConfig, sensitive: definition.isSensitive))
            }
            appendSynonyms(of: definition, to: &synonyms)
            return ConfigEntry(
                name: definition.name, value: definition.isSensitive ? nil : resolved?.value.description,
                source: resolved?.source ?? .defaultConfig, isReadOnly: false, isSensitive: definition.isSensitive,
                type: definition.type, documentation: definition.documentation, synonyms: synonyms)
        }
    }

    /// The effective value of topic setting `name`: the topic's override, else the first broker
    /// synonym set, else the default.
    public func resolvedTopicValue(_ name: String, overrides: [String: ConfigValue]) -> ResolvedConfigValue? {
        guard let definition = ConfigTable.topic[name] else { return nil }
        if let value = overrides[name] {
            return ResolvedConfigValue(value: value, name: name, source: .dynamicTopicConfig)
        }
        for synonym in definition.synonyms {
            if let value = explicitValues[synonym.name] {
                return ResolvedConfigValue(value: Self.scaled(value, by: synonym.multiplier), name: synonym.name,
                                           source: .staticBrokerConfig)
            }
        }
        guard let value = definition.defaultValue else { return nil }
        return ResolvedConfigValue(value: value, name: name, source: .defaultConfig)
    }

    /// Broker synonyms that are set, then the first synonym with a default (Kafka's order).
    private func appendSynonyms(
        of definition: ConfigDefinition, to synonyms: inout [ConfigSynonymEntry], includingDefault: Bool = true
    ) {
        for synonym in definition.synonyms {
            if let value = explicitValues[synonym.name] {
                synonyms.append(entry(synonym.name, value, .staticBrokerConfig, sensitive: definition.isSensitive))
            }
        }
        for synonym in definition.synonyms where includingDefault {
            if let value = ConfigTable.broker[synonym.name]?.defaultValue {
                synonyms.append(entry(synonym.name, value, .defaultConfig, sensitive: definition.isSensitive))
                break
            }
        }
    }

    private func entry(_ name: String, _ value: ConfigValue, _ source: ConfigSource, sensitive: Bool) -> ConfigSynonymEntry {
        ConfigSynonymEntry(name: name, value: sensitive ? nil : value.description, source: source)
    }
}
