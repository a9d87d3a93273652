// Stale alias ids: a client that knows a topic id only because Metadata answered it under an alias
// name reads that alias, not the topic. After a swap the id still names a live topic (the old target),
// so the broker cannot refuse it for everyone; but a Fetch by that id from a client (client id and host)
// that learned it only through aliases that no longer resolve to it is answered UNKNOWN_TOPIC_ID, and
// Java and librdkafka refresh their metadata and move to the new target (KIP-516 handling) — instead of
// going on reading the old target, or (Java after a rebalance, which does not refresh metadata) reading
// it at the new target's offsets. A client that also asked for the topic by its own name keeps reading
// it; one wrongly refused (another process with the same client id and host) re-learns the topic by
// name at its metadata refresh and reads on.
import Atomics
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import RunnelCluster

/// The topic ids each client (client id and host) learned from Metadata answers, by how it asked.
final class ClientTopicIds: Sendable {
    private struct Known {
        /// Ids answered under alias names (the aliases that gave each).
        var viaAlias: [KafkaUUID: Set<String>] = [:]
        /// Ids answered under their topic's own name (or in an all-topics listing).
        var direct: Set<KafkaUUID> = []
    }

    /// Clients remembered at most; past it the oldest-learned half is forgotten (they then read stale
    /// alias ids until their metadata refresh, as without this check).
    static let maxClients = 10_000
    private let clients = NIOLockedValueBox<[String: Known]>([:])
    /// False until some client learned an id through an alias: until then Fetch skips the check.
    private let anyAlias = ManagedAtomic<Bool>(false)

    /// Held target topics per client (see `hold`).
    private let holds = NIOLockedValueBox<[String: Hold]>([:])
    private let anyHold = ManagedAtomic<Bool>(false)

    static func key(clientId: String?, host: String) -> String { "\(clientId ?? "")|\(host)" }

    private static func key(_ request: HandlerRequest) -> String {
        key(clientId: request.header.clientId, host: request.clientHost)
    }

    private static func nowMs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// Holds the topics `ids` for `clients` (members of `group` moved to offsets in them) for at most
    /// `forMs`: their fetches of these topics are answered empty until, after the fence, they were assigned
    /// the moved partitions afresh (a successful SyncGroup, `expectFreshPositions`; `extendHold` while their
    /// assignment leaves them out) and then read each partition's committed offset (OffsetFetch,
    /// `noteCommittedOffsetsRead`) — so positions learned in an alias's old target are not used in the new one.
    /// A hold set before the swap is not `releasable` (a SyncGroup then is still of the old generation)
    /// until the fence makes it so.
    func hold(_ ids: Set<KafkaUUID>, for clients: [MovedMember], group: String, forMs: Int64, releasable: Bool) {
        guard !ids.isEmpty, !clients.isEmpty, forMs > 0 else { return }
        let until = Self.nowMs() + forMs
        holds.withLockedValue { holds in
            for client in clients {
                var held = holds[client.key] ?? Hold(group: group)
                if held.group != group || held.confirming {
                    held = Hold(group: group)  // another move: what the client did for the last one does not count
                }
                held.ids.formUnion(ids)
                held.untilMs = max(until, held.untilMs)
                held.releasable = releasable
                held.memberIds.insert(client.memberId)
                holds[client.key] = held
            }
        }
        anyHold.store(true, ordering: .relaxed)
    }

    /// After the fence, the client's member was assigned the moved partitions afresh: from now on each held
    /// partition is released when the client reads its committed offset (`noteCommittedOffsetsRead`), and a
    /// fetch of one it has not read shows a position kept from before the move (`heldPartitions`).
    func expectFreshPositions(_ request: HandlerRequest) {
        guard anyHold.load(ordering: .relaxed) else { return }
        let key = Self.key(request)
        holds.withLockedValue { holds in
            guard holds[key]?.releasable == true else { return }
            holds[key]?.confirming = true
        }
    }

    /// The client read the committed offsets of `partitions` (nil: of every topic) of `group`: the held ones
    /// among them are released once it was assigned them afresh (in that group).
    func noteCommittedOffsetsRead(_ partitions: [HeldPartition]?, group: String, _ request: HandlerRequest) {
        guard anyHold.load(ordering: .relaxed) else { return }
        let key = Self.key(request)
        holds.withLockedValue { holds in
            guard var held = holds[key], held.confirming, held.group == group else { return }
            guard let partitions else {
                holds.removeValue(forKey: key)
                if holds.isEmpty { anyHold.store(false, ordering: .relaxed) }
                return
            }
            held.released.formUnion(partitions.filter { held.ids.contains($0.topicId) })
            holds[key] = held
        }
    }

    /// True while some client has a hold.
    var hasHolds: Bool { anyHold.load(ordering: .relaxed) }

    /// How many times one hold reports its client's members as keeping positions from before the move
    /// before it ends instead (`heldPartitions`).
    static let maxStaleReports = 3

    /// Keeps the client's hold (if any) for at least `forMs` more: its member was answered an assignment that
    /// leaves the moved partitions out, and the next rebalance hands them out again.
    func extendHold(_ request: HandlerRequest, forMs: Int64) {
        guard anyHold.load(ordering: .relaxed), forMs > 0 else { return }
        let key = Self.key(request)
        let until = Self.nowMs() + forMs
        holds.withLockedValue { holds in
            guard var held = holds[key] else { return }
            held.untilMs = max(held.untilMs, until)
            held.confirming = false
            holds[key] = held
        }
    }

    /// The partitions among `partitions` held for this client (their fetches are answered without records),
    /// and — when the client was assigned them afresh but fetches one whose committed offset it has not read,
    /// so it kept a position from before the move — the group members to leave the moved partitions out
    /// once more (once per fresh assignment: the hold waits for the next one; after `maxStaleReports` the
    /// hold ends, the client's positions taken as its own).
    func heldPartitions(_ partitions: [HeldPartition], _ request: HandlerRequest) -> (held: Set<HeldPartition>, stale: StaleMembers?) {
        guard anyHold.load(ordering: .relaxed) else { return ([], nil) }
        let key = Self.key(request)
        let now = Self.nowMs()
        return holds.withLockedValue { holds in
            guard var hold = holds[key] else { return ([], nil) }
            guard hold.untilMs > now else {
                holds.removeValue(forKey: key)
                if holds.isEmpty { anyHold.store(false, ordering: .relaxed) }
                return ([], nil)
            }
            let held = Set(partitions.filter { hold.ids.contains($0.topicId) && !hold.released.contains($0) })
            guard hold.confirming, !held.isEmpty else { return (held, nil) }
            guard hold.reports < Self.maxStaleReports else {
                // A client that positions itself (a seek on assignment, offsets kept outside Kafka) never
                // reads committed offsets: after a few rounds its positions are taken as its own.
                holds.removeValue(forKey: key)
                if holds.isEmpty { anyHold.store(false, ordering: .relaxed) }
                return ([], nil)
            }
            hold.confirming = false
            hold.reports += 1
            holds[key] = hold
            return (held, StaleMembers(group: hold.group, memberIds: hold.memberIds, topicIds: hold.ids))
        }
    }

    /// Records what a Metadata answer told the client: the `names` it asked for (nil: every topic),
    /// resolved in `image`. Nothing is kept while the cluster has no alias.
    func noteAnswers(names: [String]?, image: MetadataImage, _ request: HandlerRequest) {
        guard !image.records(.alias).isEmpty else { return }
        let key = Self.key(request)
        clients.withLockedValue { clients in
            if clients[key] == nil && clients.count >= Self.maxClients {
                for stale in clients.keys.prefix(Self.maxClients / 2) { clients.removeValue(forKey: stale) }
            }
            var known = clients[key] ?? Known()
            if let names {
                for name in names {
                    if let topic = image.topics[name] {
                        known.direct.insert(topic.metadata.topicId)
                    } else if let alias = image.alias(named: name), let target = image.topics[alias.target] {
                        known.viaAlias[target.metadata.topicId, default: []].insert(name)
                        anyAlias.store(true, ordering: .relaxed)
                    }
                }
            } else {
                for id in known.viaAlias.keys where image.topic(id: id) != nil { known.direct.insert(id) }
            }
            clients[key] = known
        }
    }

    /// False until some client learned an id through an alias or a hold exists (Fetch skips the checks).
    var isActive: Bool { anyAlias.load(ordering: .relaxed) || anyHold.load(ordering: .relaxed) }

    /// The ids among `ids` this client knows only through aliases that no longer resolve to them.
    func staleAliasIds(_ ids: Set<KafkaUUID>, image: MetadataImage, _ request: HandlerRequest) -> Set<KafkaUUID> {
        let key = Self.key(request)
        return clients.withLockedValue { clients in
            guard let known = clients[key] else { return [] }
            return ids.filter { id in
                guard let aliases = known.viaAlias[id], !known.direct.contains(id) else { return false }
                return !aliases.contains { image.topic(resolving: $0)?.metadata.topicId == id }
            }
        }
    }
}

/// A held topic's partition, by topic id.
struct HeldPartition: Hashable, Sendable {
    var topicId: KafkaUUID
    var partition: Int32
}

/// A member of a group moved by a fence, and its client (client id and host, `ClientTopicIds.key`).
struct MovedMember: Sendable {
    var key: String
    var memberId: String
}

/// Members whose client fetched a moved partition at a position kept from before the move.
struct StaleMembers: Sendable, Equatable {
    var group: String
    var memberIds: Set<String>
    var topicIds: Set<KafkaUUID>
}

/// One client's hold on the topics a fence moved its group to.
private struct Hold {
    var group: String
    var memberIds: Set<String> = []
    var ids: Set<KafkaUUID> = []
    var untilMs: Int64 = 0
    /// False for a hold set before the swap, until the fence.
    var releasable = false
    /// The member was assigned the moved partitions afresh: partitions are released as the client reads
    /// their committed offsets (`released`); a fetch of another one shows a position kept from before.
    var confirming = false
    var released: Set<HeldPartition> = []
    /// Times this hold reported its members as keeping positions from before the move.
    var reports = 0
}

extension BrokerCore {
    /// `plan` with the partitions the client names by a stale alias id moved to its errors
    /// (UNKNOWN_TOPIC_ID), so the client refreshes its metadata.
    /// Also (by id or by name): partitions of topics held for the client (`ClientTopicIds.hold`) are
    /// answered without records; a client that shows it kept a position from before the move has the
    /// moved partitions left out of its member's assignment once more (`leaveMovedPartitionsOutAgain`).
    func refusingStaleAliasIds(_ plan: FetchPlan, _ context: HandlerRequest) -> FetchPlan {
        guard clientTopicIds.isActive, !plan.partitions.isEmpty else { return plan }
        let image = metadataStore.image
        let ids = Set(plan.partitions.map(\.1.topicId))
        // Ids are the client's own only in fetches by id; by name (older clients) only holds apply.
        let stale = plan.byTopicId ? clientTopicIds.staleAliasIds(ids, image: image, context) : []
        // Only while some client has a hold: aliases alone keep this path active for every fetch.
        let (held, staleMembers) = !clientTopicIds.hasHolds ? ([], nil) : clientTopicIds.heldPartitions(
            plan.partitions.map { HeldPartition(topicId: $0.1.topicId, partition: $0.0.partition) }, context)
        guard !stale.isEmpty || !held.isEmpty else { return plan }
        if let staleMembers { leaveMovedPartitionsOutAgain(staleMembers, image: image, context) }
        var refused = plan
        refused.partitions = plan.partitions.filter { key, wanted in
            var answer = FetchedPartition(key: key, topicId: wanted.topicId)
            if stale.contains(wanted.topicId) {
                answer.errorCode = .unknownTopicId
            } else if held.contains(HeldPartition(topicId: wanted.topicId, partition: key.partition)) {
                guard let partition = clientPartition(topic: key.topic, index: key.partition).partition else { return true }
                answer.highWatermark = partition.highWatermark
                answer.lastStableOffset = partition.lastStableOffset
                answer.logStartOffset = partition.logStartOffset
                refused.holding = true
            } else {
                return true
            }
            refused.unresolved.append(answer)
            return false
        }
        return refused
    }
}
