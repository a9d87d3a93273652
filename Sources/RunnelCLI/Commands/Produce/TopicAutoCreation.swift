// TopicAutoCreation: `runnel produce` to a topic that does not exist asks the broker to create it,
// as Kafka's console producer does, so the broker's `auto.create.topics.enable` decides.
import Foundation
import KafkaProtocol
import RunnelClient

enum TopicAutoCreation {
    /// Makes sure `topic` exists before producing. An existing topic costs one Metadata request (which
    /// the producer would send anyway). A missing one is requested again with `allowAutoTopicCreation`;
    /// the broker creates it with its `num.partitions` and `default.replication.factor` if
    /// `auto.create.topics.enable` is on.
    /// - Returns: a line saying what was created, or nil when the topic existed.
    /// - Throws: `CLIError` when the broker does not create topics on use; the client's errors otherwise.
    static func ensureExists(_ topic: String, client: KafkaClient) async throws -> String? {
        do {
            _ = try await client.topicMetadata(topic)
            return nil
        } catch KafkaClientError.unknownTopic {
            // Fall through: ask the broker to create it.
        }
        var request = MetadataRequest()
        request.allowAutoTopicCreation = true
        var requested = MetadataRequest.MetadataRequestTopic()
        requested.name = topic
        request.topics = [requested]
        let response = try await client.sendToAny(request)
        let code = response.topics.first { $0.name == topic }.map { ErrorCode(rawValue: $0.errorCode) }
            ?? .unknownTopicOrPartition
        switch code {
        case ErrorCode.none, .leaderNotAvailable:
            break
        case .unknownTopicOrPartition, .invalidTopicException:
            if let reason = invalidNameReason(topic) {
                throw CLIError.failure("unknown topic '\(topic)', and it cannot be created: \(reason)")
            }
            throw CLIError.failure("unknown topic '\(topic)', and the broker does not create topics on use (auto.create.topics.enable=false)",
                                   hint: "create it with `runnel topic create \(topic)`")
        default:
            throw KafkaClientError.broker(code: code, context: "creating topic '\(topic)'", message: nil)
        }
        // The new topic's leaders may take a moment (LEADER_NOT_AVAILABLE is retried by topicMetadata).
        let created = try await client.topicMetadata(topic, forceRefresh: true)
        return "created topic '\(topic)' with \(created.partitions.count) partition(s) (the broker's auto.create.topics.enable is on)"
    }

    /// Why a broker would not auto-create `name` (Kafka's topic name rules, and no internal `__` names).
    private static func invalidNameReason(_ name: String) -> String? {
        if name.isEmpty || name == "." || name == ".." { return "'\(name)' is not a topic name" }
        if name.count > 249 { return "topic names have at most 249 characters" }
        if name.hasPrefix("__") { return "names starting with '__' are internal topics, never created on use" }
        let legal = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "." || scalar == "_" || scalar == "-")
        }
        return legal ? nil : "topic names use only letters, digits, '.', '_' and '-'"
    }
}
