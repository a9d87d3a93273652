// ConfigValue and the small enums that describe a setting: type, scope, source.

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

/// Kafka's config types, numbered as in DescribeConfigs v3+ (`ConfigType`).
public enum ConfigType: Int8, Sendable {
    case boolean = 1
    case string = 2
    case int = 3
    case short = 4
    case long = 5
    case double = 6
    case list = 7
    case password = 9

    /// The type name as Kafka's documentation writes it.
    public var name: String {
        switch self {
        case .boolean: "boolean"
        case .string: "string"
        case .int: "int"
        case .short: "short"
        case .long: "long"
        case .double: "double"
        case .list: "list"
        case .password: "password"
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

/// Where a value came from, numbered as DescribeConfigs reports it (`ConfigSource`).
public enum ConfigSource: Int8, Sendable {
    case unknown = 0
    /// An override stored with the topic.
    case dynamicTopicConfig = 1
    /// A per-broker dynamic setting (AlterConfigs on a broker).
    case dynamicBrokerConfig = 2
    /// A cluster-wide dynamic default.
    case dynamicDefaultBrokerConfig = 3
    /// The broker's config file, environment or command line.
    case staticBrokerConfig = 4
    /// The built-in default.
    case defaultConfig = 5
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
