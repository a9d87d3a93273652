// BrokerConfigOptions: the `--config` and `--override` options of the commands that read a broker
// configuration (`runnel broker`, `runnel config show`), and loading it with the environment.
import ArgumentParser
import Foundation
import RunnelBroker

/// Where a broker configuration comes from on the command line.
struct BrokerConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A TOML config file (default: the embedded single-node config).")
    var config: String?

    @Option(name: .customLong("override"), help: ArgumentHelp("Set one setting, e.g. log.retention.hours=24 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    /// The configuration: built-in defaults, the file, `RUNNEL_*` environment variables, then `--override`.
    /// - Throws: a usage `CLIError` (exit code 2) naming the bad setting and what to do.
    func load() throws(CLIError) -> BrokerConfig {
        do {
            return try BrokerConfig.load(path: config, environment: ProcessInfo.processInfo.environment,
                                         overrides: overrides)
        } catch {
            throw CLIError.usage(error.description, hint: error.hint)
        }
    }
}
