// ConfigValidator: the rule a setting's value must satisfy, with Kafka-style error text.

/// A check on a setting's value, beyond its type.
public enum ConfigValidator: Sendable {
    /// Any value of the right type.
    case none
    /// An integer at least `min`.
    case atLeast(Int64)
    /// An integer in `min...max`.
    case between(Int64, Int64)
    /// A double in `min...max`.
    case doubleBetween(Double, Double)
    /// A string equal to one of these (case-sensitive, as Kafka's `ValidString`).
    case oneOf([String])
    /// A non-empty list whose every element is one of these.
    case listOf([String])
    /// A non-empty list of strings.
    case nonEmptyList
    /// A list of `NAME://host:port` listeners.
    case listeners
    /// `host:port`, or empty for "disabled".
    case hostPortOrEmpty
    /// `partition:brokerId` pairs or `*` (Kafka's ThrottledReplicaListValidator).
    case throttledReplicas

    /// Returns why `value` is invalid, or nil when it is valid.
    public func violation(of value: ConfigValue) -> String? {
        switch (self, value) {
        case (.none, _):
            return nil
        case (.atLeast(let min), .int(let number)):
            return number >= min ? nil : "must be at least \(min)"
        case (.between(let min, let max), .int(let number)):
            return (min...max).contains(number) ? nil : "must be between \(min) and \(max)"
        case (.doubleBetween(let min, let max), _):
            guard let number = value.doubleValue else { return "must be a number" }
            return (min...max).contains(number) ? nil : "must be between \(min) and \(max)"
        case (.oneOf(let allowed), .string(let text)):
            return allowed.contains(text) ? nil : "must be one of \(allowed.joined(separator: ", "))"
        case (.listOf(let allowed), .list(let items)):
            guard !items.isEmpty else { return "must list at least one of \(allowed.joined(separator: ", "))" }
            let bad = items.filter { !allowed.contains($0) }
            return bad.isEmpty ? nil : "'\(bad[0])' is not one of \(allowed.joined(separator: ", "))"
        case (.nonEmptyList, .list(let items)):
            return items.contains(where: { $0.isEmpty }) || items.isEmpty ? "must not be empty" : nil
        case (.listeners, .list(let items)):
            for item in items where Listener(parsing: item) == nil {
                return "'\(item)' is not a listener; expected NAME://host:port, e.g. PLAINTEXT://127.0.0.1:9092"
            }
            return nil
        case (.hostPortOrEmpty, .string(let text)):
            guard text.isEmpty || Listener(parsing: "HTTP://" + text) != nil else {
                return "expected host:port (e.g. 127.0.0.1:9644) or an empty string to disable"
            }
            return nil
        case (.throttledReplicas, .list(let items)):
            return ThrottledReplicaList(items: items) == nil
                ? "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                : nil
        default:
            return "has the wrong type"
        }
    }

    /// A short human description for the documentation table.
    public var documentation: String {
        switch self {
        case .none: ""
        case .atLeast(let min): "[\(min),...]"
        case .between(let min, let max): "[\(min),...,\(max)]"
        case .doubleBetween(let min, let max): "[\(min),...,\(max)]"
        case .oneOf(let allowed): allowed.joined(separator: ", ")
        case .listOf(let allowed): "list of: " + allowed.joined(separator: ", ")
        case .nonEmptyList: "non-empty list"
        case .listeners: "NAME://host:port, …"
        case .hostPortOrEmpty: "host:port or empty"
        case .throttledReplicas: ThrottledReplicaList.format
        }
    }
}
