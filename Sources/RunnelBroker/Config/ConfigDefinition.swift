// ConfigDefinition: one row of the settings table (name, type, default, scope, validator, doc, synonyms).
import KafkaProtocol

/// A setting another setting falls back to: a broker setting (for a topic config) or a
/// lower-priority broker spelling (`log.retention.hours` for `log.retention.ms`).
public struct ConfigSynonym: Sendable, Hashable {
    /// The broker setting's name.
    public var name: String
    /// Multiply its value by this to get the value in the defining setting's unit (hours → ms).
    public var multiplier: Int64

    /// Creates a synonym.
    public init(_ name: String, multiplier: Int64 = 1) {
        self.name = name
        self.multiplier = multiplier
    }
}

/// One setting: everything parsing, validation, DescribeConfigs and the docs need.
public struct ConfigDefinition: Sendable {
    /// Kafka's name for the setting.
    public var name: String
    /// The value type.
    public var type: ConfigType
    /// The built-in default, nil when unset by default (Kafka's `null`).
    public var defaultValue: ConfigValue?
    /// Broker or topic.
    public var scope: ConfigScope
    /// The rule values must satisfy.
    public var validator: ConfigValidator
    /// One line for `docs/configuration.md`.
    public var documentation: String
    /// Settings this one falls back to, highest priority first.
    public var synonyms: [ConfigSynonym]
    /// True for settings Runnel adds (not in Apache Kafka).
    public var runnelOnly: Bool
    /// True for secrets: DescribeConfigs reports no value.
    public var isSensitive: Bool { type == .password }

    /// Creates a definition.
    public init(
        _ name: String, _ type: ConfigType, default defaultValue: ConfigValue?, scope: ConfigScope,
        validator: ConfigValidator = .none, synonyms: [ConfigSynonym] = [], runnelOnly: Bool = false,
        _ documentation: String
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.scope = scope
        self.validator = validator
        self.synonyms = synonyms
        self.runnelOnly = runnelOnly
        self.documentation = documentation
    }

    /// The environment variable that overrides this setting: `RUNNEL_` + upper-case name, dots → underscores.
    public var environmentVariable: String {
        "RUNNEL_" + name.uppercased().replacing(".", with: "_").replacing("-", with: "_")
    }

    /// Parses a value given as text (environment, `--override`, a topic's stored config).
    public func parse(_ text: String) -> ConfigValue? {
        let trimmed = text.trimmingWhitespace()
        switch type {
        case .boolean:
            switch trimmed.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return nil
            }
        case .int, .short, .long:
            return Int64(trimmed).map(ConfigValue.int)
        case .double:
            return Double(trimmed).map(ConfigValue.double)
        case .string, .password:
            return .string(text)
        case .list:
            return .list(trimmed.isEmpty ? [] : trimmed.split(separator: ",").map { $0.trimmingWhitespace() })
        }
    }

    /// Checks a value's type bounds and validator; returns why it is invalid, or nil.
    public func violation(of value: ConfigValue) -> String? {
        switch (type, value) {
        case (.boolean, .bool), (.long, .int), (.double, .double), (.string, .string), (.password, .string),
            (.list, .list):
            break
        case (.double, .int(let number)):
            return validator.violation(of: .double(Double(number)))
        case (.int, .int(let number)):
            guard Int64(Int32.min)...Int64(Int32.max) ~= number else { return "must fit in a 32-bit int" }
        case (.short, .int(let number)):
            guard Int64(Int16.min)...Int64(Int16.max) ~= number else { return "must fit in a 16-bit int" }
        default:
            return "must be a \(type.name)"
        }
        return validator.violation(of: value)
    }

    /// Normalizes a value to this definition's representation (an int given for a double).
    func normalized(_ value: ConfigValue) -> ConfigValue {
        if type == .double, case .int(let number) = value { return .double(Double(number)) }
        return value
    }
}
