// The `runnel` command: broker, topic, produce, consume, group, txn, offsets, perf, log, cluster, local-cluster.
import ArgumentParser
import Foundation
import RunnelBroker

@main
struct Runnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runnel",
        abstract: "Runnel: a Kafka-compatible message log broker and its tools.",
        version: RunnelVersion.current,
        subcommands: [BrokerCommand.self, ConfigCommand.self, TopicCommand.self, ProduceCommand.self, ConsumeCommand.self,
                      GroupCommand.self, TxnCommand.self, OffsetsCommand.self, PerfCommand.self, LogCommand.self, ClusterCommand.self,
                      LocalClusterCommand.self, ReplayCommand.self, AliasCommand.self, UserCommand.self, AclCommand.self,
                      QuotaCommand.self])

    /// Parses and runs, mapping failures to one line and exit codes: 0 success, 1 runtime failure,
    /// 2 usage or configuration error.
    static func main() async {
        do {
            var command = try parseAsRoot(GlobalOptionHoisting.reorder(Array(CommandLine.arguments.dropFirst()), root: Runnel.self))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            if let line = error.line { Terminal.printError(line) }
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? 2 : 1)
        }
    }
}
