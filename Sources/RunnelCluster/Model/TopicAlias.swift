// TopicAlias: a name that resolves to one concrete topic (issue 15), stored as a cluster record of kind
// `alias` (key: the alias name, value: `{"target":"<topic>"}`). This file owns how an alias is read
// from an image, how a client's topic name resolves through the alias table, and the rules every
// alias change obeys (names, targets, no chains, compare-and-swap on the record version).
import Foundation
import KafkaProtocol

/// An alias and the topic it points to.
public struct TopicAlias: Sendable, Equatable, Codable {
    /// The alias name clients use.
    public var name: String
    /// The concrete topic it resolves to.
    public var target: String
    /// The record version (changes with every swap; a compare-and-swap names it).
    public var version: Int64

    public init(name: String, target: String, version: Int64) {
        self.name = name
        self.target = target
        self.version = version
    }

    /// The stored value of an alias record.
    struct Value: Codable {
        var target: String
    }

    /// The record value for an alias to `target`.
    static func recordValue(target: String) -> String {
        let data = (try? JSONEncoder().encode(Value(target: target))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The alias a record holds; nil when the value is not an alias value (never from our writes).
    init?(record: ClusterRecord) {
        guard let value = try? JSONDecoder().decode(Value.self, from: Data(record.value.utf8)) else { return nil }
        self.init(name: record.key, target: value.target, version: record.version)
    }
}

extension MetadataImage {
    /// The alias `name`, or nil when no alias has that name.
    public func alias(named name: String) -> TopicAlias? {
        record(.alias, key: name).flatMap(TopicAlias.init(record:))
    }

    /// Every alias, by name.
    public var aliases: [TopicAlias] {
        records(.alias).values.compactMap(TopicAlias.init(record:)).sorted { $0.name < $1.name }
    }

    /// The aliases that point at `topic`.
    public func aliases(targeting topic: String) -> [TopicAlias] {
        aliases.filter { $0.target == topic }
    }

    /// The topic a client means by `name`: the topic of that name, else the target of the alias of that
    /// name. Client-facing requests (Metadata, Produce, Fetch, ListOffsets, ...) resolve names with this;
    /// the broker's own paths (replication, coordinators) use `topic(named:)`. A name that is not an alias
    /// costs one dictionary lookup more than `topic(named:)`.
    public func topic(resolving name: String) -> TopicImage? {
        if let topic = topics[name] { return topic }
        guard let alias = alias(named: name) else { return nil }
        return topics[alias.target]
    }

    /// The name a client-facing request acts on: the alias's target for an alias, else `name` itself.
    public func resolvedTopicName(_ name: String) -> String {
        if topics[name] != nil { return name }
        return alias(named: name)?.target ?? name
    }
}

/// Why an alias change was refused. Each case carries the Kafka error code a client gets and says
/// what to do instead.
public enum TopicAliasError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidName(String, reason: String)
    case nameIsTopic(String)
    case aliasExists(String, target: String)
    case unknownAlias(String)
    case unknownTarget(alias: String, target: String)
    case targetIsAlias(alias: String, target: String, itsTarget: String)
    case internalTarget(alias: String, target: String)
    case expectationFailed(alias: String, expected: String?, current: String?)
    case changedConcurrently(String)

    /// The Kafka error code a client gets.
    public var errorCode: ErrorCode {
        switch self {
        case .invalidName, .internalTarget: .invalidTopicException
        case .nameIsTopic, .aliasExists: .topicAlreadyExists
        case .unknownAlias, .unknownTarget: .unknownTopicOrPartition
        case .targetIsAlias: .invalidConfig
        case .expectationFailed, .changedConcurrently: .invalidUpdateVersion
        }
    }

    public var description: String {
        switch self {
        case .invalidName(let name, let reason): "'\(name)' cannot be an alias: \(reason)."
        case .nameIsTopic(let name): "'\(name)' is a topic; an alias needs a name that no topic has."
        case .aliasExists(let name, let target):
            "Alias '\(name)' already exists (it points to '\(target)'); swap it to change its target."
        case .unknownAlias(let name): "There is no alias '\(name)'."
        case .unknownTarget(let alias, let target): "Alias '\(alias)' cannot point to '\(target)': no such topic."
        case .targetIsAlias(let alias, let target, let itsTarget):
            "Alias '\(alias)' cannot point to '\(target)': it is itself an alias (of '\(itsTarget)'); aliases point to topics, never to aliases."
        case .internalTarget(let alias, let target): "Alias '\(alias)' cannot point to the internal topic '\(target)'."
        case .expectationFailed(let alias, let expected, let current):
            "Alias '\(alias)' points to " + (current.map { "'\($0)'" } ?? "nothing (it does not exist)") + ", not "
                + (expected.map { $0.isEmpty ? "nothing" : "'\($0)'" } ?? "?") + ": someone changed it first."
        case .changedConcurrently(let alias): "Alias '\(alias)' was changed concurrently by another request; read it again and retry."
        }
    }
}

/// A change to the alias table.
public enum TopicAliasChange: Sendable, Equatable {
    /// Points `name` at `target`. `expectedTarget`: nil = create or swap; "" = create only (the alias
    /// must not exist); a name = swap only if the alias points there now (compare-and-swap).
    case point(String, to: String, expectedTarget: String?)
    /// Deletes the alias, if it points to `expectedTarget` (when given).
    case delete(String, expectedTarget: String?)

    public var name: String {
        switch self {
        case .point(let name, _, _), .delete(let name, _): name
        }
    }
}

/// The rules of alias changes, as one pure function from the image to the record write.
public enum TopicAliasRules {
    /// The conditional record write that makes `change` in a store whose image is `image`; its
    /// expected version is the alias record's version read here, so of two changes racing from the
    /// same image exactly one is applied.
    public static func write(for change: TopicAliasChange, in image: MetadataImage) throws(TopicAliasError) -> ClusterRecordWrite {
        let name = change.name
        let current = image.alias(named: name)
        switch change {
        case .point(_, let target, let expected):
            if let reason = TopicMetadata.invalidNameReason(name) { throw .invalidName(name, reason: reason) }
            if name.hasPrefix("__") { throw .invalidName(name, reason: "names starting with '__' are for internal topics") }
            if image.topic(named: name) != nil { throw .nameIsTopic(name) }
            if let expected {
                if expected.isEmpty, let current { throw .aliasExists(name, target: current.target) }
                if !expected.isEmpty, current?.target != expected {
                    throw .expectationFailed(alias: name, expected: expected, current: current?.target)
                }
            }
            if target == name { throw .targetIsAlias(alias: name, target: target, itsTarget: target) }
            if let other = image.alias(named: target) {
                throw .targetIsAlias(alias: name, target: target, itsTarget: other.target)
            }
            guard image.topic(named: target) != nil else { throw .unknownTarget(alias: name, target: target) }
            if InternalTopics.contains(target) { throw .internalTarget(alias: name, target: target) }
            return .put(.alias, key: name, value: TopicAlias.recordValue(target: target),
                        expectedVersion: current?.version ?? 0)
        case .delete(_, let expected):
            guard let current else { throw .unknownAlias(name) }
            if let expected, !expected.isEmpty, current.target != expected {
                throw .expectationFailed(alias: name, expected: expected, current: current.target)
            }
            return .delete(.alias, key: name, expectedVersion: current.version)
        }
    }

    /// Why `name` cannot be created as a topic (it is an alias), or nil.
    public static func topicCreationConflict(_ name: String, in image: MetadataImage) -> String? {
        guard let alias = image.alias(named: name) else { return nil }
        return "'\(name)' is an alias of '\(alias.target)'; delete the alias first to create a topic of that name."
    }

    /// Why `name` cannot be deleted as a topic (it is an alias, or aliases point to it), or nil.
    public static func topicDeletionConflict(_ name: String, in image: MetadataImage) -> String? {
        if let alias = image.alias(named: name), image.topic(named: name) == nil {
            return "'\(name)' is an alias of '\(alias.target)', not a topic; delete it with `runnel alias delete` or IncrementalAlterConfigs."
        }
        let pointing = image.aliases(targeting: name).map(\.name)
        guard !pointing.isEmpty else { return nil }
        return "Topic '\(name)' is the target of alias(es) \(pointing.map { "'\($0)'" }.joined(separator: ", ")); swap or delete them first (runnel topic delete --force deletes them)."
    }
}
