// Group offsets of an alias act on its target: OffsetCommit, TxnOffsetCommit, OffsetFetch and
// OffsetDelete name topics that GroupRequests stores as they are, so the router renames an alias to its
// target on the way in and back to the client's name on the way out. Offsets are thus kept per
// concrete topic: after a swap a group reading the alias finds the offsets it has in the new target
// (none, or those `runnel alias swap --translate-offsets` wrote).
import KafkaProtocol
import RunnelCluster

/// A group-offsets message whose topic names can be rewritten in place.
protocol TopicNamedMessage {
    mutating func renameTopics(_ rename: (inout String) -> Void)
}

/// One request's alias renames: alias → target going in, target → the client's name coming out.
struct TopicAliasRenames {
    private let image: MetadataImage
    private var clientNames: [String: String] = [:]

    init(image: MetadataImage) {
        self.image = image
    }

    /// `message` with every alias replaced by its target (unchanged, without a copy, when no alias exists).
    mutating func resolve<Message: TopicNamedMessage>(_ message: Message) -> Message {
        guard !image.records(.alias).isEmpty else { return message }
        var resolved = message
        var renamed: [String: String] = [:]
        resolved.renameTopics { name in
            let target = image.resolvedTopicName(name)
            if target != name {
                renamed[target] = name
                name = target
            }
        }
        clientNames.merge(renamed) { first, _ in first }
        return resolved
    }

    /// `message` with the targets of resolved aliases named as the client named them.
    func restore<Message: TopicNamedMessage>(_ message: Message) -> Message {
        guard !clientNames.isEmpty else { return message }
        var restored = message
        restored.renameTopics { name in
            if let clientName = clientNames[name] { name = clientName }
        }
        return restored
    }
}

/// An entry of a message's topic list.
protocol NamedTopicEntry {
    var name: String { get set }
}

/// A message whose topics are one list of named entries.
protocol TopicListMessage: TopicNamedMessage {
    associatedtype TopicEntry: NamedTopicEntry
    var topics: [TopicEntry] { get set }
}

extension TopicListMessage {
    mutating func renameTopics(_ rename: (inout String) -> Void) {
        for index in topics.indices { rename(&topics[index].name) }
    }
}

extension OffsetCommitRequest: TopicListMessage {}
extension OffsetCommitRequest.OffsetCommitRequestTopic: NamedTopicEntry {}
extension OffsetCommitResponse: TopicListMessage {}
extension OffsetCommitResponse.OffsetCommitResponseTopic: NamedTopicEntry {}
extension TxnOffsetCommitRequest: TopicListMessage {}
extension TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic: NamedTopicEntry {}
extension TxnOffsetCommitResponse: TopicListMessage {}
extension TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic: NamedTopicEntry {}
extension OffsetDeleteRequest: TopicListMessage {}
extension OffsetDeleteRequest.OffsetDeleteRequestTopic: NamedTopicEntry {}
extension OffsetDeleteResponse: TopicListMessage {}
extension OffsetDeleteResponse.OffsetDeleteResponseTopic: NamedTopicEntry {}

extension OffsetFetchRequest: TopicNamedMessage {
    mutating func renameTopics(_ rename: (inout String) -> Void) {
        if var list = topics {
            for index in list.indices { rename(&list[index].name) }
            topics = list
        }
        for group in groups.indices {
            guard var list = groups[group].topics else { continue }
            for index in list.indices { rename(&list[index].name) }
            groups[group].topics = list
        }
    }
}

extension OffsetFetchResponse: TopicNamedMessage {
    mutating func renameTopics(_ rename: (inout String) -> Void) {
        for index in topics.indices { rename(&topics[index].name) }
        for group in groups.indices {
            for index in groups[group].topics.indices { rename(&groups[group].topics[index].name) }
        }
    }
}
