// The `runnel` command: broker, topic, produce, consume, group, offsets, perf, log, cluster.
import ArgumentParser

@main
struct Runnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runnel",
        abstract: "Runnel: a Kafka-compatible message log broker and its tools.",
        subcommands: [TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, GroupCommand.self, OffsetsCommand.self,
                      PerfCommand.self, LogCommand.self, ClusterCommand.self])
}
