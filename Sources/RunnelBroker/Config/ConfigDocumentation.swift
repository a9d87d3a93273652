// ConfigDocumentation: renders docs/configuration.md from the settings table.

/// Generates the configuration reference from `ConfigTable` (`runnel config docs`).
public enum ConfigDocumentation {
    /// The full `docs/configuration.md` text.
    public static func markdown() -> String {
        var out = """
            # Configuration reference

            <!-- Generated from Sources/RunnelBroker/Config by `runnel config docs > docs/configuration.md`; do not edit. -->

            Runnel uses Apache Kafka's setting names, types and defaults; settings Runnel adds are marked **Runnel**.
            Broker settings are read, lowest precedence first, from the built-in defaults, the TOML file given
            with `runnel broker --config FILE` (or the embedded single-node `runnel.toml`), environment variables
            (`RUNNEL_` + the name upper-cased with dots as underscores: `RUNNEL_LOG_DIRS` sets `log.dirs`),
            and `--override key=value`. In TOML, quote the dotted names: `"log.dirs" = "./data"`.

            Topic settings can be overridden per topic (CreateTopics, AlterConfigs); otherwise the first
            broker synonym that is set applies, otherwise the default. DescribeConfigs reports the source
            (`DYNAMIC_TOPIC_CONFIG`, `STATIC_BROKER_CONFIG`, `DEFAULT_CONFIG`) and the synonyms.


            """
        out += "## Broker settings\n\n"
        out += table(ConfigTable.brokerDefinitions, showSynonyms: false)
        out += "\n## Topic settings\n\n"
        out += table(ConfigTable.topicDefinitions, showSynonyms: true)
        return out
    }

    private static func table(_ definitions: [ConfigDefinition], showSynonyms: Bool) -> String {
        var out = showSynonyms
            ? "| Name | Type | Default | Valid values | Broker synonyms | Description |\n|---|---|---|---|---|---|\n"
            : "| Name | Type | Default | Valid values | Environment | Description |\n|---|---|---|---|---|---|\n"
        for definition in definitions.sorted(by: { $0.name < $1.name }) {
            let defaultText = definition.defaultValue.map { "`\(display($0))`" } ?? "unset"
            let extra = showSynonyms
                ? definition.synonyms.map { "`\($0.name)`" }.joined(separator: ", ")
                : "`\(definition.environmentVariable)`"
            let doc = (definition.runnelOnly ? "**Runnel.** " : "") + definition.documentation
            out += "| `\(definition.name)` | \(definition.type.name) | \(defaultText) | "
                + "\(escape(definition.validator.documentation)) | \(extra) | \(escape(doc)) |\n"
        }
        return out
    }

    private static func display(_ value: ConfigValue) -> String {
        switch value {
        case .int(Int64.max): return "9223372036854775807"
        case .string(let text) where text.isEmpty: return "\"\""
        default: return escape(value.description)
        }
    }

    private static func escape(_ text: String) -> String {
        text.replacing("|", with: "\\|")
    }
}
