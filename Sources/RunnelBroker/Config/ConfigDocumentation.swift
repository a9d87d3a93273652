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
        out += recompression
        return out
    }

    /// How `compression.type` acts on produce (the table row has room for one line only).
    private static let recompression = """

        ## compression.type and recompression

        With `compression.type=producer` (the default) batches are stored byte for byte as the producer sent
        them. Any other value (`uncompressed`, `gzip`, `snappy`, `lz4`, `zstd`) makes produce re-encode each
        batch sent with a different codec, as Kafka does: its records are decompressed (bounded), checked one
        by one (offset deltas, keys on compacted topics, the CreateTime window), and compressed with the
        topic's codec at `compression.gzip.level`, `compression.lz4.level` or `compression.zstd.level`. The
        base offset, producer id, epoch, base sequence and attributes other than the codec are kept, the CRC
        is recomputed, and a CreateTime batch's max timestamp is taken from its records. The re-encoded batch
        must still fit `max.message.bytes` (MESSAGE_TOO_LARGE otherwise). Batches already in the topic's
        codec are stored as sent; transaction markers are never recompressed. Recompression costs broker CPU
        on every produce; producers that use the topic's codec avoid it.

        """

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
