// Options every networked subcommand shares: which brokers to talk to, timeouts, client id.
import ArgumentParser
import Foundation
import NIOCore
import RunnelClient

/// `--brokers`, `--timeout`, `--client-id`.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.short, .long],
            help: ArgumentHelp("Brokers to bootstrap from, host:port[,host:port]. Default: $RUNNEL_BROKERS or localhost:9092.",
                               valueName: "host:port"))
    var brokers: String?

    @Option(name: .long, help: ArgumentHelp("Request timeout in milliseconds.", valueName: "ms"))
    var timeout: Int = 30_000

    @Option(name: .long, help: "The client.id sent to brokers.")
    var clientId: String = "runnel-cli"

    @Option(name: .customShort("X"), help: ArgumentHelp(
        "A client property with its Kafka/librdkafka name, e.g. security.protocol=SASL_SSL (repeatable; docs/security.md).",
        valueName: "key=value"))
    var properties: [String] = []

    @Option(name: .customLong("command-config"), help: ArgumentHelp(
        "A properties file of client settings (as Kafka's tools take); -X wins over it.", valueName: "file"))
    var commandConfig: String?

    /// The broker list: the option, else RUNNEL_BROKERS, else localhost:9092.
    var resolvedBrokers: String {
        if let brokers, !brokers.isEmpty { return brokers }
        if let environment = ProcessInfo.processInfo.environment["RUNNEL_BROKERS"], !environment.isEmpty {
            return environment
        }
        return "localhost:9092"
    }

    /// A client configured from these options.
    func makeClient() throws -> KafkaClient {
        var configuration = try ClientConfiguration(brokers: resolvedBrokers)
        configuration.connection.clientId = clientId
        configuration.connection.requestTimeout = .milliseconds(Int64(timeout))
        configuration.connection.connectTimeout = .milliseconds(Int64(Swift.min(timeout, 10_000)))
        configuration.connection.security = try clientSecurity()
        return KafkaClient(configuration: configuration)
    }

    /// Runs a command's `body` with a fresh client (closed afterwards), reporting any error as one
    /// line with a hint and exiting 1 (or 2), as `runReportingErrors` does.
    func run(_ body: (KafkaClient) async throws -> Void) async throws {
        try await runReportingErrors(brokers: resolvedBrokers) { try await withClient(body) }
    }

    /// Runs `body` with a fresh client, closing it afterwards.
    func withClient<T>(_ body: (KafkaClient) async throws -> T) async throws -> T {
        let client = try makeClient()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

/// `--format table|json` for commands that print tables.
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: table (for people) or json (for scripts).")
    var format: OutputFormat = .table

    var isJSON: Bool { format == .json }
}

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json
}
