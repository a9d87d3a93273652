// BrokerConfig: the broker's static settings and the resolution of any setting's effective value.
import KafkaProtocol
import NIOCore

/// A value with the setting it was read from and that setting's source.
public struct ResolvedConfigValue: Sendable, Equatable {
    /// The value in the unit of the setting asked about (hours synonyms are converted to ms).
    public var value: ConfigValue
    /// The setting the value was read from (the setting itself, or one of its synonyms).
    public var name: String
    /// Where it came from, as DescribeConfigs reports it.
    public var source: ConfigSource
}

/// The broker's configuration: values set in the file, environment or on the command line,
/// resolved against the settings table (synonyms, then defaults).
public struct BrokerConfig: Sendable {
    /// The broker settings set explicitly, by name (already validated).
    public internal(set) var explicitValues: [String: ConfigValue] = [:]
    /// Where each explicit value was read from.
    public internal(set) var origins: [String: ConfigOrigin] = [:]

    /// A configuration with every setting at its default.
    public init() {}

    /// The effective value of the broker setting `name`: its own value, else the first synonym
    /// set, else its default, else the first synonym's default. Nil for unknown or unset settings.
    public func resolved(_ name: String) -> ResolvedConfigValue? {
        guard let definition = ConfigTable.broker[name] else { return nil }
        if let value = explicitValues[name] {
            return ResolvedConfigValue(value: value, name: name, source: .staticBrokerConfig)
        }
        for synonym in definition.synonyms {
            if let value = explicitValues[synonym.name] {
                return ResolvedConfigValue(value: Self.scaled(value, by: synonym.multiplier), name: synonym.name,
                                           source: .staticBrokerConfig)
            }
        }
        if let value = definition.defaultValue {
            return ResolvedConfigValue(value: value, name: name, source: .defaultConfig)
        }
        for synonym in definition.synonyms {
            if let value = ConfigTable.broker[synonym.name]?.defaultValue {
                return ResolvedConfigValue(value: Self.scaled(value, by: synonym.multiplier), name: synonym.name,
                                           source: .defaultConfig)
            }
        }
        return nil
    }

    /// The effective value of broker setting `name` (see `resolved(_:)`).
    public subscript(name: String) -> ConfigValue? { resolved(name)?.value }

    /// Sets a broker setting from text, validating it (for tests and programmatic setup).
    public mutating func set(_ name: String, to text: String) throws(ConfigError) {
        guard let definition = ConfigTable.brokerDefinition(named: name) else {
            throw .unknownSetting(name: name, origin: .commandLine, suggestion: ConfigTable.suggestion(for: name))
        }
        try set(definition, text: text, origin: .commandLine)
    }

    static func scaled(_ value: ConfigValue, by multiplier: Int64) -> ConfigValue {
        guard multiplier != 1, case .int(let number) = value else { return value }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return .int(overflow ? (number < 0 ? Int64.min : Int64.max) : product)
    }

    // MARK: Typed accessors for the settings the broker itself reads (defaults from the table)

    /// `node.id` (or `broker.id`).
    public var nodeId: Int32 { int32(.nodeId) }

    /// `listeners`, parsed.
    public var listeners: [Listener] { Listener.parseList(list(.listeners)) ?? [] }

    /// `advertised.listeners`, or `listeners` when unset. A listener with an empty host binds all
    /// interfaces: advertise `RequestContext.localAddress` for it instead.
    public var advertisedListeners: [Listener] {
        guard let list = self["advertised.listeners"]?.listValue, let parsed = Listener.parseList(list), !parsed.isEmpty
        else { return listeners }
        return parsed
    }

    /// `log.dirs`, or `log.dir` when unset.
    public var logDirs: [String] { list(.logDirs) }

    /// `io.engine`: `auto`, `io_uring` or `posix`.
    public var ioEngine: String { string(.ioEngine) }

    /// `metrics.listener` as host and port, nil when empty (disabled) or malformed.
    public var metricsListener: (host: String, port: Int)? {
        let text = string(.metricsListener)
        guard !text.isEmpty, let listener = Listener(parsing: "HTTP://" + text) else { return nil }
        return (listener.bindHost, listener.port)
    }

    /// The network layer's settings.
    public var serverConfiguration: ServerConfiguration {
        var configuration = baseServerConfiguration
        configuration.applyConnectionLimits(self)
        return configuration
    }

    private var baseServerConfiguration: ServerConfiguration {
        ServerConfiguration(
            listeners: listeners,
            maxRequestBytes: Int(int(.socketRequestMaxBytes)),
            maxConnections: Int(int(.maxConnections)),
            maxConnectionsPerIP: Int(int(.maxConnectionsPerIP)),
            idleTimeout: milliseconds(.connectionsMaxIdleMs),
            maxPendingRequestsPerConnection: Int(int(.queuedMaxRequestsPerConnection)),
            shutdownTimeout: milliseconds(.shutdownTimeoutMs))
    }
}
