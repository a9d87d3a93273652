// ErrorReporting: turns any error a command meets into a `CLIError` (message, hint, exit code) and
// prints it as one line on stderr.
import Foundation
import KafkaProtocol
import RunnelClient

/// Runs a command body, printing any error as one line with a hint on stderr and exiting 1 (or 2).
/// Exits the process itself, so the exit code does not depend on how the root command maps errors.
func runReportingErrors(brokers: String? = nil, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        let failure = CLIError(error, brokers: brokers)
        Terminal.flush()
        if let line = failure.line { Terminal.printError(line) }
        exit(failure.exitCode)
    }
}

extension CLIError {
    /// The CLI's view of any error: message, hint and exit code.
    /// - Parameter brokers: the bootstrap servers, named in the hint of connection failures.
    init(_ error: any Error, brokers: String?) {
        switch error {
        case let cli as CLIError:
            self = cli
        case let parse as TimeParseError:
            self = .usage(parse.description)
        case let format as RecordFormatError:
            self = .usage(format.description, hint: "see `runnel consume --help` for format tokens")
        case let client as KafkaClientError:
            self.init(message: client.description, hint: Self.hint(for: client, brokers: brokers),
                      exitCode: Self.exitCode(for: client))
        default:
            self = .failure("\(error)")
        }
    }

    private static func exitCode(for error: KafkaClientError) -> Int32 {
        if case .invalidArgument = error { return 2 }
        return 1
    }

    private static func hint(for error: KafkaClientError, brokers: String?) -> String? {
        switch error {
        case .connectionFailed, .connectionClosed:
            return "is a broker running at \(brokers ?? "the given address")? Set --brokers or RUNNEL_BROKERS"
        case .requestTimedOut:
            return "the broker did not answer in time; check it is healthy or raise --timeout"
        case .unknownTopic:
            return "list topics with `runnel topic list` or create it with `runnel topic create`"
        case .unsupportedApi:
            return "the broker is too old or not Kafka-compatible for this command"
        case .broker(let code, _, _):
            switch code {
            case .topicAlreadyExists: return "pick another name or use --if-not-exists"
            case .invalidConfig: return "check the config name and value (`runnel topic describe TOPIC` shows current configs)"
            case .invalidPartitions: return "the partition count can only grow; see `runnel topic describe`"
            case .invalidReplicationFactor: return "the replication factor cannot exceed the number of brokers"
            case .unknownTopicOrPartition: return "check the topic name and partition with `runnel topic describe`"
            case .groupIdNotFound: return "list groups with `runnel group list`"
            case .nonEmptyGroup: return "stop the group's consumers first"
            case .policyViolation: return "the broker's policy refused the change"
            default: return code.isRetriable ? "the condition may be temporary; retry" : nil
            }
        default:
            return nil
        }
    }
}
