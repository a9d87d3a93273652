// Test support for the group coordinator: a manual clock, a coordinator factory with short timeouts,
// join helpers, and bounded polling.
import KafkaProtocol
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelGroups

/// A clock tests move by hand.
final class ManualGroupClock: GroupClock {
    private let time = Mutex<Int64>(1_700_000_000_000)
    func nowMs() -> Int64 { time.withLock { $0 } }
    func advance(by milliseconds: Int64) { time.withLock { $0 += milliseconds } }
}

/// Topics that exist for the request-level tests: "orders" (3 partitions) and "payments" (1).
struct FixedTopicCatalog: GroupTopicCatalog {
    static let ordersId = KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 1)
    static let paymentsId = KafkaUUID(mostSignificantBits: 2, leastSignificantBits: 2)
    let topics: [String: (id: KafkaUUID, partitions: Int32)] = [
        "orders": (ordersId, 3), "payments": (paymentsId, 1),
    ]
    func topicName(for topicId: KafkaUUID) -> String? { topics.first { $0.value.id == topicId }?.key }
    func topicId(for name: String) -> KafkaUUID? { topics[name]?.id }
    func partitionExists(topic: String, partition: Int32) -> Bool {
        guard let entry = topics[topic] else { return false }
        return partition >= 0 && partition < entry.partitions
    }
}

struct GroupFixture {
    let coordinator: GroupCoordinator
    let store: InMemoryGroupLogStore
    let clock: ManualGroupClock
    let config: GroupCoordinatorConfig

    /// Short timeouts, no initial delay, 4 offsets partitions, all loaded.
    static func make(store: InMemoryGroupLogStore = InMemoryGroupLogStore(), clock: ManualGroupClock = ManualGroupClock(),
                     _ adjust: (inout GroupCoordinatorConfig) -> Void = { _ in }) async throws -> GroupFixture {
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.minSessionTimeoutMs = 10
        config.maxSessionTimeoutMs = 60_000
        config.initialRebalanceDelayMs = 0
        config.offsetsTopicPartitions = 4
        config.newMemberJoinTimeoutMs = 300_000
        adjust(&config)
        let coordinator = GroupCoordinator(config: config, store: store, clock: clock,
                                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await coordinator.loadAllPartitions()
        return GroupFixture(coordinator: coordinator, store: store, clock: clock, config: config)
    }

    var requests: GroupRequests {
        GroupRequests(coordinator: coordinator, catalog: FixedTopicCatalog()) { _, _ in
            CoordinatorNode(nodeId: 1, host: "localhost", port: 9092)
        }
    }
}

func protocols(_ names: String..., metadata: String = "sub") -> [GroupProtocol] {
    names.map { GroupProtocol(name: $0, metadata: ByteBuffer(string: "\($0):\(metadata)")) }
}

func joinParameters(_ groupId: String = "g", memberId: String = "", instanceId: String? = nil,
                    session: Int32 = 1000, rebalance: Int32 = 2000, protocolType: String = "consumer",
                    protocols offered: [GroupProtocol] = protocols("range"), clientId: String = "client",
                    requireKnownMemberId: Bool = true) -> JoinGroupParameters {
    JoinGroupParameters(groupId: groupId, memberId: memberId, groupInstanceId: instanceId, clientId: clientId,
                        clientHost: "/127.0.0.1", sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance,
                        protocolType: protocolType, protocols: offered, requireKnownMemberId: requireKnownMemberId)
}

extension GroupCoordinator {
    /// Number of members of `groupId` with a parked JoinGroup.
    func awaitingJoinCount(_ groupId: String) -> Int {
        groups[groupId]?.orderedMembers.filter(\.isAwaitingJoin).count ?? 0
    }

    /// Number of members of `groupId` with a parked SyncGroup.
    func awaitingSyncCount(_ groupId: String) -> Int {
        groups[groupId]?.orderedMembers.filter(\.isAwaitingSync).count ?? 0
    }
}

/// Polls `condition` until it holds, at most `attempts` times with a 1 ms pause; returns whether it held.
func eventually(attempts: Int = 2000, _ condition: () async -> Bool) async -> Bool {
    for _ in 0..<attempts {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return await condition()
}

/// Runs the first step of the KIP-394 join for a dynamic member: returns the member id it is given.
func obtainMemberId(_ coordinator: GroupCoordinator, _ parameters: JoinGroupParameters) async -> String {
    let first = await coordinator.joinGroup(parameters)
    #expect(first.error == .memberIdRequired)
    return first.memberId
}

/// One member joins an empty group and syncs: returns its id; the group is Stable at generation 1.
func stableSingleMemberGroup(_ coordinator: GroupCoordinator, _ groupId: String = "g",
                             assignment: String = "a1") async -> String {
    let memberId = await obtainMemberId(coordinator, joinParameters(groupId))
    let joined = await coordinator.joinGroup(joinParameters(groupId, memberId: memberId))
    #expect(joined.error == .none)
    let synced = await coordinator.syncGroup(
        groupId: groupId, generationId: joined.generationId, memberId: memberId, groupInstanceId: nil,
        protocolType: "consumer", protocolName: joined.protocolName,
        assignments: [memberId: ByteBuffer(string: assignment)])
    #expect(synced.error == .none)
    return memberId
}

/// Brings a second member into a stable single-member group: both rejoin; returns (leader, follower)
/// join results of generation 2 (the group is then CompletingRebalance).
func addSecondMember(_ coordinator: GroupCoordinator, _ groupId: String = "g",
                     first: String) async -> (leader: JoinGroupResult, follower: JoinGroupResult) {
    let secondId = await obtainMemberId(coordinator, joinParameters(groupId, clientId: "second"))
    async let second = coordinator.joinGroup(joinParameters(groupId, memberId: secondId, clientId: "second"))
    #expect(await eventually { await coordinator.state(of: groupId) == .preparingRebalance })
    #expect(await coordinator.heartbeat(groupId: groupId, generationId: 1, memberId: first, groupInstanceId: nil)
            == .rebalanceInProgress)
    let rejoined = await coordinator.joinGroup(joinParameters(groupId, memberId: first))
    let other = await second
    return rejoined.memberId == rejoined.leaderId ? (rejoined, other) : (other, rejoined)
}

extension GroupCoordinatorConfig {
    /// Apache Kafka's defaults for the coordinator's settings (the broker takes them from its settings table).
    static let kafkaDefaults = GroupCoordinatorConfig(
        minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 1_800_000, initialRebalanceDelayMs: 3000, maxSize: Int32.max,
        offsetsTopicPartitions: 50, offsetsRetentionMinutes: 10080, offsetsRetentionCheckIntervalMs: 600_000,
        offsetMetadataMaxBytes: 4096)
}
