// Topic aliases (a Runnel extension) over plain Kafka config requests: IncrementalAlterConfigs on the
// alias name sets or deletes `runnel.alias.target` (with `runnel.alias.expected.target` as the
// compare-and-swap condition), DescribeConfigs reads it, and DescribeConfigs of the BROKER resource
// with the key `runnel.aliases` lists them. Also: a group's offsets translated from an
// alias's old target to its new one by timestamp, and moving a (possibly running) group to them by fencing
// its generation (IncrementalAlterConfigs GROUP `runnel.group.fence.offsets`, docs/decisions/0016).
import Foundation
import KafkaProtocol

/// An alias and the topic it resolves to.
public struct AliasListing: Sendable, Codable, Equatable {
    public var alias: String
    public var target: String

    public init(alias: String, target: String) {
        self.alias = alias
        self.target = target
    }
}

/// A group's offset moved by `translateGroupOffsets`.
public struct TranslatedOffset: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

extension KafkaAdmin {
    /// The config that names an alias's target.
    public static let aliasTargetConfig = "runnel.alias.target"
    /// The target an alias change expects now ("" = the alias must not exist).
    public static let aliasExpectedTargetConfig = "runnel.alias.expected.target"
    /// The BROKER config key that lists every alias.
    public static let aliasListConfig = "runnel.aliases"

    /// Points `alias` at `target`. `expectedTarget`: nil = create or swap, "" = create only, a topic =
    /// swap only if the alias points there now (else INVALID_UPDATE_VERSION, and nothing changes).
    public func setAlias(_ alias: String, target: String, expectedTarget: String? = nil) async throws {
        var changes: [(String, String?)] = [(Self.aliasTargetConfig, target)]
        if let expectedTarget { changes.append((Self.aliasExpectedTargetConfig, expectedTarget)) }
        try await sendAliasChange(alias, changes, what: "point alias '\(alias)' at '\(target)'")
    }

    /// Deletes `alias` (if it points to `expectedTarget`, when given).
    public func deleteAlias(_ alias: String, expectedTarget: String? = nil) async throws {
        var changes: [(String, String?)] = [(Self.aliasTargetConfig, nil)]
        if let expectedTarget { changes.append((Self.aliasExpectedTargetConfig, expectedTarget)) }
        try await sendAliasChange(alias, changes, what: "delete alias '\(alias)'")
    }

    /// Every alias, sorted by name.
    public func listAliases() async throws -> [AliasListing] {
        let entries = try await describeConfigs(.broker, name: "", keys: [Self.aliasListConfig])
        guard let json = entries.first(where: { $0.name == Self.aliasListConfig })?.value else {
            throw KafkaClientError.protocolError("the broker does not know topic aliases (DescribeConfigs has no \(Self.aliasListConfig))")
        }
        let map = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        return map.map { AliasListing(alias: $0.key, target: $0.value) }.sorted { $0.alias < $1.alias }
    }

    /// The target of `alias`; nil when `alias` is a topic, not an alias. Throws `unknownTopic` when
    /// neither exists.
    public func aliasTarget(_ alias: String) async throws -> String? {
        try await describeConfigs(.topic, name: alias, keys: [Self.aliasTargetConfig])
            .first { $0.name == Self.aliasTargetConfig }?.value
    }

    /// The GROUP config whose SET fences a group and commits offsets (a Runnel extension).
    public static let groupFenceOffsetsConfig = "runnel.group.fence.offsets"

    /// The offsets `group` gets in topic `to` when it moves from topic `from` by time: each partition of
    /// `to` gets the first offset at or after the earliest timestamp among the last records the group
    /// consumed in `from` (at-least-once: records at that instant may come again, none after it is
    /// skipped). A group with no offsets in `from` starts `to` at its beginning. Nothing is written.
    public func translatedGroupOffsets(group: String, from: String, to: String) async throws -> [TranslatedOffset] {
        let committed = try await client.committedOffsets(group: group).filter { $0.key.topic == from }
        var lastConsumed: Int64?
        for (topicPartition, offset) in committed where offset > 0 {
            let timestamp = try await timestamp(of: TopicPartition(topic: from, partition: topicPartition.partition),
                                                at: offset - 1)
            if let timestamp { lastConsumed = min(lastConsumed ?? timestamp, timestamp) }
        }
        let targets = try await startOffsets(topic: to, spec: lastConsumed.map { .timestamp($0) } ?? .earliest)
        return targets.sorted { $0.key < $1.key }.map { TranslatedOffset(topic: to, partition: $0.key, offset: $0.value) }
    }

    /// The GROUP config whose SET holds topics for a group's current members (a Runnel extension).
    public static let groupHoldTopicsConfig = "runnel.group.hold.topics"

    /// Holds `topics` for `group`'s current members on its coordinator: their fetches of them answer no
    /// records until, after `fenceGroup`, they have rejoined the group (at most their rebalance
    /// timeout). Sent before a swap, so members cannot read the new target at old positions in between.
    public func holdTopics(_ topics: [String], forGroup group: String) async throws {
        try await sendGroupConfig(group, Self.groupHoldTopicsConfig, topics.joined(separator: ","),
                                  what: "hold \(topics.joined(separator: ",")) for group '\(group)'")
    }

    /// Commits `offsets` for `group` on its coordinator, fencing the group's current generation when it has
    /// members: they are sent into a rebalance, their later commits of the old generation are refused, and
    /// (eager protocol) they read these offsets when they rejoin. A group without members just gets them.
    public func fenceGroup(_ group: String, offsets: [TranslatedOffset]) async throws {
        var json: [String: [String: Int64]] = [:]
        for offset in offsets { json[offset.topic, default: [:]][String(offset.partition)] = offset.offset }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try await sendGroupConfig(group, Self.groupFenceOffsetsConfig, String(decoding: try encoder.encode(json), as: UTF8.self),
                                  what: "move group '\(group)'")
    }

    /// SETs one Runnel GROUP config on the group's coordinator.
    private func sendGroupConfig(_ group: String, _ name: String, _ value: String, what: String) async throws {
        var request = IncrementalAlterConfigsRequest()
        request.validateOnly = false
        var resource = IncrementalAlterConfigsRequest.AlterConfigsResource()
        resource.resourceType = ConfigResourceType.group.rawValue
        resource.resourceName = group
        var config = IncrementalAlterConfigsRequest.AlterableConfig()
        config.name = name
        config.configOperation = 0
        config.value = value
        resource.configs = [config]
        request.resources = [resource]
        let response = try await client.coordinatorConnection(group: group).send(request)
        for result in response.responses {
            try KafkaClientError.check(result.errorCode, what, message: result.errorMessage)
        }
    }

    /// The timestamp of the record at `offset` (or the first one after it, when compaction removed it);
    /// nil when the partition has no record there any more.
    func timestamp(of topicPartition: TopicPartition, at offset: Int64) async throws -> Int64? {
        var configuration = ConsumerConfiguration()
        configuration.enableAutoCommit = false
        let consumer = KafkaConsumer(client: client, configuration: configuration)
        await consumer.assign([topicPartition: .offset(offset)])
        let deadline = ContinuousClock.now + .seconds(10)
        do {
            while ContinuousClock.now < deadline {
                if let record = try await consumer.poll().first(where: { $0.offset >= offset }) {
                    await consumer.close()
                    return record.timestamp
                }
                if let end = await consumer.endOffset(of: topicPartition), end <= offset {
                    await consumer.close()
                    return nil
                }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
        throw KafkaClientError.invalidArgument("no record at or after \(topicPartition)@\(offset) could be read within 10 s")
    }

    private func sendAliasChange(_ alias: String, _ changes: [(String, String?)], what: String) async throws {
        var request = IncrementalAlterConfigsRequest()
        request.validateOnly = false
        var resource = IncrementalAlterConfigsRequest.AlterConfigsResource()
        resource.resourceType = ConfigResourceType.topic.rawValue
        resource.resourceName = alias
        resource.configs = changes.map { name, value in
            var config = IncrementalAlterConfigsRequest.AlterableConfig()
            config.name = name
            config.configOperation = value == nil ? 1 : 0
            config.value = value
            return config
        }
        request.resources = [resource]
        let response = try await client.controllerConnection().send(request)
        for result in response.responses {
            try KafkaClientError.check(result.errorCode, what, message: result.errorMessage)
        }
        await client.invalidate(topic: alias)
    }
}
