// Moving a running consumer group to new offsets (a Runnel extension, docs/compatibility.md):
// IncrementalAlterConfigs on a GROUP resource, sent to the group's coordinator, SETs
// `runnel.group.fence.offsets` to a JSON object `{"topic": {"partition": offset}}`. The coordinator
// fences the group's current generation (a rebalance; the old generation's commits are refused with
// REBALANCE_IN_PROGRESS) and commits the offsets in the same step. `runnel alias swap
// --translate-offsets` sends it right after the swap, so consumers running on the alias re-read their
// offsets in the new target instead of going on with positions learned in the old one.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import RunnelGroups

extension BrokerCore {
    /// The GROUP config whose SET fences the group and commits the offsets given as its JSON value.
    static let groupFenceOffsetsConfig = "runnel.group.fence.offsets"

    /// The GROUP config whose SET (a comma-separated topic list) holds those topics for the group's current
    /// members before a swap: their fetches of them answer no records until, after the fence, they have
    /// rejoined. Sent before the swap, so no fetch slips in between swap and fence.
    static let groupHoldTopicsConfig = "runnel.group.hold.topics"

    /// The outcome of a fence (or hold) on a GROUP resource; nil for any other resource (the topic path answers).
    func applyGroupFence(_ resource: IncrementalAlterConfigsRequest.AlterConfigsResource, validateOnly: Bool,
                         logger: Logger) async -> (code: ErrorCode, message: String?)? {
        guard ConfigResourceType(rawValue: resource.resourceType) == .group else { return nil }
        guard resource.configs.count == 1, let config = resource.configs.first, config.configOperation == 0,
              [Self.groupFenceOffsetsConfig, Self.groupHoldTopicsConfig].contains(config.name), let value = config.value else {
            return (.invalidRequest, "Group configs are not supported by Runnel except SET of \(Self.groupFenceOffsetsConfig) "
                        + "or \(Self.groupHoldTopicsConfig) alone.")
        }
        if config.name == Self.groupHoldTopicsConfig {
            let image = metadataStore.image
            let names = value.split(separator: ",").map { image.resolvedTopicName(String($0)) }
            let ids = Set(names.compactMap { image.topics[$0]?.metadata.topicId })
            guard ids.count == names.count else {
                return (.unknownTopicOrPartition, "\(Self.groupHoldTopicsConfig): no such topic among '\(value)'.")
            }
            guard !validateOnly else { return (.none, nil) }
            let members = await groupRequests.coordinator.memberClients(groupId: resource.resourceName)
            guard members.error == .none else { return (members.error, "Could not hold topics for group '\(resource.resourceName)'.") }
            clientTopicIds.hold(ids, for: members.members.map(\.moved), group: resource.resourceName,
                                forMs: Int64(members.rebalanceTimeoutMs), releasable: false)
            return (.none, nil)
        }
        guard let offsets = try? JSONDecoder().decode([String: [String: Int64]].self, from: Data(value.utf8)) else {
            return (.invalidConfig, "\(Self.groupFenceOffsetsConfig) must be a JSON object {\"topic\": {\"partition\": offset}}.")
        }
        var entries: [OffsetCommitEntry] = []
        let image = metadataStore.image
        for (name, partitions) in offsets.sorted(by: { $0.key < $1.key }) {
            let topic = image.resolvedTopicName(name)
            for (key, offset) in partitions {
                guard let partition = Int32(key), partition >= 0, offset >= 0 else {
                    return (.invalidConfig, "\(Self.groupFenceOffsetsConfig): '\(key)' -> \(offset) is no partition and offset.")
                }
                entries.append(OffsetCommitEntry(partition: TopicPartition(topic: topic, partition: partition), offset: offset))
            }
        }
        guard !validateOnly else { return (.none, nil) }
        // Assignments name the moved topics as the members subscribed: by an alias, usually.
        let aliasNames = Set(Set(entries.map(\.partition.topic)).flatMap { image.aliases(targeting: $0).map(\.name) })
        let fence = await groupRequests.coordinator.fenceAndCommit(groupId: resource.resourceName, offsets: entries,
                                                                   assignmentNames: aliasNames,
                                                                   reason: "fenced by \(Self.groupFenceOffsetsConfig)")
        guard fence.error == .none else {
            return (fence.error, "Could not fence group '\(resource.resourceName)' and commit its offsets.")
        }
        // Until they have rejoined (and so read their new offsets), the fenced members fetch nothing of the
        // topics moved to.
        let ids = Set(Set(entries.map(\.partition.topic)).compactMap { image.topics[$0]?.metadata.topicId })
        clientTopicIds.hold(ids, for: fence.members.map(\.moved), group: resource.resourceName,
                            forMs: Int64(fence.rebalanceTimeoutMs), releasable: true)
        logger.info("fenced group and moved its offsets", metadata: [
            "group": "\(resource.resourceName)", "partitions": "\(entries.count)"])
        return (.none, nil)
    }
}

extension BrokerCore {
    /// After a successful SyncGroup: once the member holds no positions from before a fence's move — its
    /// assignment gave it the moved partitions as new ones — the client's hold on the moved topics
    /// (ClientTopicIds) ends partition by partition as it reads their (translated) committed offsets. While
    /// its assignment leaves them out (the generation right after the fence) the hold goes on, for another
    /// rebalance timeout.
    func endHoldAfterSync(_ request: SyncGroupRequest, _ response: SyncGroupResponse, _ context: HandlerRequest) async {
        guard response.errorCode == ErrorCode.none.rawValue, clientTopicIds.hasHolds else { return }
        if let timeoutMs = await groupRequests.coordinator.memberHoldsOldPositions(
            groupId: request.groupId, memberId: request.memberId, generationId: request.generationId) {
            clientTopicIds.extendHold(context, forMs: Int64(timeoutMs))
        } else {
            clientTopicIds.expectFreshPositions(context)
        }
    }

    /// OffsetFetch (topics already resolved from aliases): the client reads the committed offsets of these
    /// partitions, which ends its hold on those a fence moved (ClientTopicIds).
    func noteCommittedOffsetsRead(_ message: OffsetFetchRequest, _ context: HandlerRequest) {
        guard clientTopicIds.hasHolds else { return }
        let image = metadataStore.image
        func partitions(_ name: String, _ id: KafkaUUID, _ indexes: [Int32]) -> [HeldPartition] {
            guard let topicId = id != .zero ? id : image.topics[name]?.metadata.topicId else { return [] }
            return indexes.map { HeldPartition(topicId: topicId, partition: $0) }
        }
        if context.version < 8 {
            clientTopicIds.noteCommittedOffsetsRead(
                message.topics.map { $0.flatMap { partitions($0.name, .zero, $0.partitionIndexes) } },
                group: message.groupId, context)
        } else {
            for group in message.groups {
                clientTopicIds.noteCommittedOffsetsRead(
                    group.topics.map { $0.flatMap { partitions($0.name, $0.topicId, $0.partitionIndexes) } },
                    group: group.groupId, context)
            }
        }
    }

    /// A client fetched a moved partition at a position it kept from before the move (it was assigned the
    /// partition afresh but never read its committed offset — kafka-python 3.0.12 drops a SyncGroup answer
    /// that arrives after its poll timed out, so it never saw the assignment that left the partition out):
    /// its members have the moved partitions left out of their assignments once more.
    func leaveMovedPartitionsOutAgain(_ stale: StaleMembers, image: MetadataImage, _ context: HandlerRequest) {
        let targets = Set(stale.topicIds.compactMap { image.topic(id: $0)?.metadata.name })
        let aliases = Set(targets.flatMap { image.aliases(targeting: $0).map(\.name) })
        let coordinator = groupRequests.coordinator
        let logger = context.context.logger
        Task {
            let members = await coordinator.leaveMovedPartitionsOutAgain(groupId: stale.group, memberIds: stale.memberIds,
                                                                         targets: targets, assignmentNames: aliases)
            guard !members.isEmpty else { return }
            logger.info("a member fetched a moved partition at a position from before the fence; its moved partitions leave its assignment once more",
                        metadata: ["group": "\(stale.group)", "members": "\(members.sorted().joined(separator: ","))",
                                   "topics": "\(targets.sorted().joined(separator: ","))"])
        }
    }
}

extension GroupFence.Client {
    /// The member with its client's key in ClientTopicIds.
    var moved: MovedMember { MovedMember(key: ClientTopicIds.key(clientId: clientId, host: clientHost), memberId: memberId) }
}
