// BrokerConfig+Logging: `log.format`, and the version and configuration logged once when the broker starts.
import Logging

/// The Runnel release this binary is (also `runnel --version` and `runnel_build_info`).
public enum RunnelVersion {
    public static let current = "0.7.0-dev"
}

extension BrokerConfig {
    /// `log.format`.
    public var logFormat: LogFormat { LogFormat(rawValue: string(.logFormat)) ?? .text }

    /// Logs two lines: `runnel starting` (version) and `configuration` — every setting given by the
    /// config file, the environment or `--override`, as `name=value` metadata (sensitive values hidden),
    /// with the number of settings left at their defaults. `runnel config show` lists all of them.
    public func logAtStart(_ logger: Logger) {
        logger.info("runnel starting", metadata: ["version": "\(RunnelVersion.current)"])
        var metadata: Logger.Metadata = [:]
        var defaults = 0
        for entry in describeBrokerConfigs() {
            guard entry.source != .defaultConfig else {
                defaults += 1
                continue
            }
            metadata[entry.name] = entry.isSensitive ? "[hidden]" : "\(entry.value ?? "")"
        }
        metadata["settings_at_default"] = "\(defaults)"
        logger.info("configuration", metadata: metadata)
    }
}
