// ConfigDocumentation+TOML: renders config/runnel.toml (every broker setting, documented) from the table.

extension ConfigDocumentation {
    /// The text of `config/runnel.toml`: the embedded single-node settings, active, followed by
    /// every other broker setting at its default, commented out, each with its doc line.
    public static func exampleTOML() -> String {
        let embedded = (try? BrokerConfig.load())?.explicitValues ?? [:]
        var out = """
            # Runnel broker configuration: a durable single node on 127.0.0.1:9092 with data under ./data.
            # Generated from the settings table by `runnel config toml > config/runnel.toml`; do not edit here,
            # copy it and edit the copy. Names are Apache Kafka's; quote the dotted ones. Environment variables
            # override this file (RUNNEL_LOG_DIRS sets log.dirs), and `runnel broker --override key=value`
            # overrides both. Reference: docs/configuration.md.

            # Active settings (the same as the configuration embedded in the binary).

            """
        for name in embedded.keys.sorted() {
            guard let definition = ConfigTable.broker[name], let value = embedded[name] else { continue }
            out += "# \(definition.documentation)\n\(key(name)) = \(tomlValue(value))\n"
        }
        out += "\n# Every other broker setting, at its default. Topic settings (retention.ms, segment.bytes, …)\n"
        out += "# default to their broker synonyms here (log.retention.ms, log.segment.bytes, …).\n"
        for definition in ConfigTable.brokerDefinitions.sorted(by: { $0.name < $1.name })
        where embedded[definition.name] == nil {
            out += "\n# \(definition.documentation)\n"
            if let value = definition.defaultValue {
                out += "# \(key(definition.name)) = \(tomlValue(value))\n"
            } else {
                out += "# \(key(definition.name)) =   (unset by default)\n"
            }
        }
        return out
    }

    private static func key(_ name: String) -> String {
        name.contains(".") ? "\"\(name)\"" : name
    }

    private static func tomlValue(_ value: ConfigValue) -> String {
        switch value {
        case .bool, .int, .double: return value.description
        case .string(let text): return quote(text)
        case .list(let items): return items.count == 1 ? quote(items[0]) : "[" + items.map(quote).joined(separator: ", ") + "]"
        }
    }

    private static func quote(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}
