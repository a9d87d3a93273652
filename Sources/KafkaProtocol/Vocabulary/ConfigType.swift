// ConfigType: the type of a config value, numbered as DescribeConfigs v3+ reports it.

/// Kafka's config types, numbered as in DescribeConfigs v3+ (`ConfigType`).
public enum ConfigType: Int8, Sendable, Hashable, Codable {
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
