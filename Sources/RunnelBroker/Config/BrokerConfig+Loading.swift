// BrokerConfig loading: embedded default or a TOML file, then environment, then --override.
import Foundation
import TOMLKit

extension BrokerConfig {
    /// Loads the broker configuration.
    ///
    /// Precedence, lowest first: the table's defaults; the TOML file at `path` (or, without one,
    /// the embedded `runnel.toml`); `RUNNEL_*` environment variables (`RUNNEL_LOG_DIRS` → `log.dirs`);
    /// `overrides` (`key=value`). Every value is checked against the table, then the rules that
    /// span settings (`validateCombination`).
    public static func load(
        path: String? = nil, environment: [String: String] = [:], overrides: [String] = []
    ) throws(ConfigError) -> BrokerConfig {
        var config = BrokerConfig()
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw .fileNotReadable(path: path, reason: (error as NSError).localizedDescription)
            }
            try config.apply(toml: text, origin: .file(path))
        } else {
            try config.apply(toml: embeddedDefaultTOML, origin: .file("embedded runnel.toml"))
        }
        for (variable, text) in environment.sorted(by: { $0.key < $1.key }) {
            guard let definition = ConfigTable.brokerByEnvironmentVariable[variable] else { continue }
            try config.set(definition, text: text, origin: .environment(variable))
        }
        for override in overrides {
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                throw .malformedOverride(override)
            }
            let name = override[..<equals].trimmingWhitespace()
            let text = String(override[override.index(after: equals)...])
            guard let definition = ConfigTable.brokerDefinition(named: name) else {
                throw .unknownSetting(name: name, origin: .commandLine, suggestion: ConfigTable.suggestion(for: name))
            }
            try config.set(definition, text: text, origin: .commandLine)
        }
        try config.validateCombination()
        return config
    }

    /// The embedded default configuration file (`Resources/runnel.toml`).
    public static var embeddedDefaultTOML: String {
        guard let url = Bundle.module.url(forResource: "runnel", withExtension: "toml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }

    /// Applies the settings of a TOML document. Keys are Kafka names, quoted (`"log.dirs"`) or as
    /// dotted keys / tables (`[log] dirs = …`), which are flattened back to dotted names.
    public mutating func apply(toml text: String, origin: ConfigOrigin) throws(ConfigError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .syntax(
                path: "\(origin)", line: error.source.begin.line, column: error.source.begin.column,
                message: error.description)
        } catch {
            throw .syntax(path: "\(origin)", line: 0, column: 0, message: "\(error)")
        }
        try apply(table: table, prefix: "", origin: origin)
    }

    private mutating func apply(table: TOMLTable, prefix: String, origin: ConfigOrigin) throws(ConfigError) {
        for (key, value) in table {
            let name = prefix.isEmpty ? key : prefix + "." + key
            if let nested = value.table, ConfigTable.brokerDefinition(named: name) == nil {
                try apply(table: nested, prefix: name, origin: origin)
                continue
            }
            guard let definition = ConfigTable.brokerDefinition(named: name) else {
                throw .unknownSetting(name: name, origin: origin, suggestion: ConfigTable.suggestion(for: name))
            }
            guard let parsed = Self.configValue(from: value, for: definition) else {
                throw .invalidValue(
                    name: name, value: value.debugDescription, reason: "must be a \(definition.type.name)", origin: origin)
            }
            try set(definition, value: parsed, shown: value.debugDescription, origin: origin)
        }
    }

    private static func configValue(from value: any TOMLValueConvertible, for definition: ConfigDefinition) -> ConfigValue? {
        if let text = value.string { return definition.parse(text) }
        switch definition.type {
        case .boolean: return value.bool.map(ConfigValue.bool)
        case .int, .short, .long: return value.int.map { .int(Int64($0)) }
        case .double: return value.double.map(ConfigValue.double) ?? value.int.map { .double(Double($0)) }
        case .string, .password: return nil
        case .list:
            guard let array = value.array else { return nil }
            var items: [String] = []
            for element in array {
                guard let text = element.string else { return nil }
                items.append(text)
            }
            return .list(items)
        }
    }

    mutating func set(_ definition: ConfigDefinition, text: String, origin: ConfigOrigin) throws(ConfigError) {
        guard let value = definition.parse(text) else {
            throw .invalidValue(
                name: definition.name, value: text, reason: "must be a \(definition.type.name)", origin: origin)
        }
        try set(definition, value: value, shown: text, origin: origin)
    }

    mutating func set(
        _ definition: ConfigDefinition, value: ConfigValue, shown: String, origin: ConfigOrigin
    ) throws(ConfigError) {
        let value = definition.normalized(value)
        if let reason = definition.violation(of: value) {
            throw .invalidValue(name: definition.name, value: shown, reason: reason, origin: origin)
        }
        explicitValues[definition.name] = value
        origins[definition.name] = origin
    }
}
