// ConfigValue and the small enums that describe a setting: its scope and where a static value came
// from (its type and DescribeConfigs source are Kafka vocabulary, in KafkaProtocol).
import KafkaProtocol

/// A setting's value, typed by its definition.
public enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
    /// A `BOOLEAN` setting.
    case bool(Bool)
    /// An `INT`, `SHORT` or `LONG` setting (the definition's type bounds it).
    case int(Int64)
    /// A `DOUBLE` setting.
    case double(Double)
    /// A `STRING` or `PASSWORD` setting.
    case string(String)
    /// A `LIST` setting (comma-separated in Kafka's string form).
    case list([String])

    /// Kafka's string form, as DescribeConfigs reports it and properties files write it.
    public var description: String {
        switch self {
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .string(let value): return value
        case .list(let value): return value.joined(separator: ",")
        }
    }

    /// The value as an integer, if it is one.
    public var intValue: Int64? { if case .int(let value) = self { value } else { nil } }
    /// The value as a boolean, if it is one.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The value as a double (integers convert), if it is numeric.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): return value
        case .int(let value): return Double(value)
        default: return nil
        }
    }
    /// The value as a string, if it is one.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The value as a list (a single string becomes a one-element list).
    public var listValue: [String]? {
        switch self {
        case .list(let value): return value
        case .string(let value): return value.isEmpty ? [] : [value]
        default: return nil
        }
    }
}

/// Whether a setting belongs to the broker or can be set per topic.
public enum ConfigScope: String, Sendable {
    /// A broker setting (`server.properties` in Kafka, runnel.toml here).
    case broker
    /// A topic setting, overridable per topic, defaulting to its broker synonym.
    case topic
}

/// Where a statically configured value was read from (for error messages).
public enum ConfigOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The built-in default.
    case builtIn
    /// A TOML file.
    case file(String)
    /// An environment variable.
    case environment(String)
    /// A `--override key=value` argument.
    case commandLine
    /// A topic's stored override.
    case topicOverride

    public var description: String {
        switch self {
        case .builtIn: "built-in default"
        case .file(let path): path
        case .environment(let variable): "environment variable \(variable)"
        case .commandLine: "--override"
        case .topicOverride: "topic config"
        }
    }
}
