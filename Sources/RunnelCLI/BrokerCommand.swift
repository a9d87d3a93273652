// `runnel broker`: load the configuration, start the broker, run until SIGTERM/SIGINT.
import ArgumentParser
import Logging
import RunnelBroker

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run a broker until SIGTERM or SIGINT.",
        discussion: """
            Settings use Apache Kafka's names. Precedence, lowest first: built-in defaults, the \
            config file (or the embedded single-node config), RUNNEL_* environment variables \
            (RUNNEL_LOG_DIRS sets log.dirs), then --override.

            Examples:
              runnel broker
              runnel broker --config config/runnel.toml --override log.dirs=/var/lib/runnel
              RUNNEL_LISTENERS=PLAINTEXT://0.0.0.0:9092 runnel broker --log-level debug
            """)

    @OptionGroup var settings: BrokerConfigOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw CLIError.usage("unknown log level '\(logLevel)'",
                                 hint: "use one of trace, debug, info, notice, warning, error, critical")
        }
        let brokerConfig = try settings.load()
        let registry = Observability.bootstrap(logLevel: level, logFormat: brokerConfig.logFormat,
                                               metrics: brokerConfig.metricsListener != nil)
        let logger = Logger(label: "runnel.broker")
        brokerConfig.logAtStart(logger)
        do {
            try await Broker.openAndRunUntilTerminated(config: brokerConfig, logger: logger, metricsRegistry: registry)
        } catch let error as BrokerOpenError {
            throw CLIError.failure("could not open the broker: \(error)", hint: "check log.dirs (and etcd.endpoints with metadata.store=etcd) and the log lines above")
        } catch let error as ServerError {
            throw CLIError.failure(error.description, hint: "is another process using the port? change listeners")
        } catch {
            throw CLIError.failure("\(error)", hint: "see the log lines above")
        }
    }
}
