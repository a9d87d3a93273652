// Command failures as one line with a hint, and the exit codes: 0 success, 1 failure, 2 bad usage.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

/// A failure the CLI reports itself (rather than a client error).
struct CommandError: Error, CustomStringConvertible {
    var message: String
    var hint: String?
    /// True for mistakes in the command line (exit code 2).
    var isUsage: Bool

    static func usage(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(message: message, hint: hint, isUsage: true)
    }

    static func failure(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(message: message, hint: hint, isUsage: false)
    }

    var description: String { message }
}

/// Thrown by a command whose failures were already reported (e.g. per record): exit with `code`.
struct ReportedFailure: Error {
    var code: Int32 = 1
}

/// Runs a command body, printing any error as one line with a hint on stderr and exiting 1 (or 2).
/// Exits the process itself, so the exit code does not depend on how the root command maps errors.
func runReportingErrors(brokers: String? = nil, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let reported as ReportedFailure {
        Terminal.flush()
        exit(reported.code)
    } catch {
        let (message, hint, code) = describe(error, brokers: brokers)
        var line = "error: \(message)"
        if let hint { line += " (hint: \(hint))" }
        Terminal.flush()
        Terminal.printError(line)
        exit(code)
    }
}

/// Message, hint and exit code for an error.
func describe(_ error: any Error, brokers: String?) -> (String, String?, Int32) {
    switch error {
    case let cli as CommandError:
        return (cli.message, cli.hint, cli.isUsage ? 2 : 1)
    case let parse as TimeParseError:
        return (parse.description, nil, 2)
    case let format as RecordFormatError:
        return (format.description, "see `runnel consume --help` for format tokens", 2)
    case let client as KafkaClientError:
        return (client.description, hint(for: client, brokers: brokers), exitCode(for: client))
    default:
        return ("\(error)", nil, 1)
    }
}

private func exitCode(for error: KafkaClientError) -> Int32 {
    if case .invalidArgument = error { return 2 }
    return 1
}

private func hint(for error: KafkaClientError, brokers: String?) -> String? {
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
