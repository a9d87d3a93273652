// ConfigTable: the one table of Runnel's settings, and lookups into it.

/// Every setting Runnel knows, broker and topic. Parsing, validation, environment overrides,
/// DescribeConfigs and `docs/configuration.md` all come from these rows.
public enum ConfigTable {
    /// Every definition: broker settings, then topic settings.
    public static let all: [ConfigDefinition] = brokerDefinitions + topicDefinitions

    /// Broker settings by name.
    public static let broker: [String: ConfigDefinition] = Dictionary(
        brokerDefinitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// Topic settings by name.
    public static let topic: [String: ConfigDefinition] = Dictionary(
        topicDefinitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// The broker definition named like the environment variable, e.g. `RUNNEL_LOG_DIRS` → `log.dirs`.
    static let brokerByEnvironmentVariable: [String: ConfigDefinition] = Dictionary(
        brokerDefinitions.map { ($0.environmentVariable, $0) }, uniquingKeysWith: { first, _ in first })

    /// The known broker setting closest to `name`, for "did you mean" hints.
    static func suggestion(for name: String) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in broker.keys {
            let distance = editDistance(name, candidate)
            if distance <= max(2, name.count / 4), distance < best?.distance ?? Int.max {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
