// `runnel topic create|list|describe|alter-config|add-partitions|delete`: topic administration.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

/// The `topic` noun: create, list, describe, change and delete topics.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, list, describe, change and delete topics.",
        discussion: """
        EXAMPLES:
          runnel topic create orders -p 6 -r 1 -c retention.ms=86400000
          runnel topic list
          runnel topic describe orders --format json
          runnel topic alter-config orders -c segment.ms=3600000 --delete retention.ms
          runnel topic add-partitions orders -p 12
          runnel topic delete orders
        """,
        subcommands: [TopicCreate.self, TopicList.self, TopicDescribe.self, TopicAlterConfig.self,
                      TopicAddPartitions.self, TopicDelete.self])
}

/// Parses `key=value` pairs given with `-c`.
func parseConfigPairs(_ pairs: [String]) throws -> [(String, String)] {
    try pairs.map { pair in
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw CLIError.usage("bad config '\(pair)': expected key=value", hint: "e.g. -c retention.ms=86400000")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }
}
