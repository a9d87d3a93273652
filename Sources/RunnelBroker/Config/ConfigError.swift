// ConfigError: why a configuration (file, environment, override, topic config) was refused.

/// A configuration problem, naming the setting and where its value came from.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config file could not be read.
    case fileNotReadable(path: String, reason: String)
    /// The config file is not valid TOML.
    case syntax(path: String, line: Int, column: Int, message: String)
    /// No such setting (at broker scope, or at topic scope for a topic config).
    case unknownSetting(name: String, origin: ConfigOrigin, suggestion: String?)
    /// The value does not parse as the setting's type or breaks its rule.
    case invalidValue(name: String, value: String, reason: String, origin: ConfigOrigin)
    /// A `--override` argument is not `key=value`.
    case malformedOverride(String)

    /// Kafka's error code for this problem when it comes from a request (`INVALID_CONFIG`).
    public var kafkaErrorCode: Int16 { 40 }

    public var description: String {
        switch self {
        case .fileNotReadable(let path, let reason):
            return "cannot read config file \(path): \(reason)"
        case .syntax(let path, let line, let column, let message):
            return "\(path):\(line):\(column): \(message)"
        case .unknownSetting(let name, let origin, let suggestion):
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown setting '\(name)' in \(origin)\(hint)"
        case .invalidValue(let name, let value, let reason, let origin):
            return "invalid value '\(value)' for \(name) in \(origin): \(reason)"
        case .malformedOverride(let text):
            return "--override '\(text)' is not key=value"
        }
    }

    /// What the user can do next.
    public var hint: String {
        switch self {
        case .fileNotReadable: "check the path given to --config"
        case .syntax: "fix the TOML syntax; quote dotted Kafka names: \"log.dirs\" = \"./data\""
        case .unknownSetting, .invalidValue: "see docs/configuration.md or run `runnel config docs`"
        case .malformedOverride: "write --override log.retention.hours=24"
        }
    }
}
