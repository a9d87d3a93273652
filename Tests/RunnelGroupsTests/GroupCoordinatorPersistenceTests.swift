// Tests of loading groups and offsets from __consumer_offsets, tombstones on deletion, offset expiry,
// and the coordinator's answers while a partition is loading or not owned.
import KafkaProtocol
import NIOCore
import Synchronization
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorPersistenceTests {
    let p0 = TopicPartition(topic: "orders", partition: 0)

    @Test func aRestartedCoordinatorLoadsGroupsAndOffsetsFromTheLog() async throws {
        let store = InMemoryGroupLogStore()
        let first = try await GroupFixture.make(store: store)
        let memberId = await stableSingleMemberGroup(first.coordinator, assignment: "orders-0")
        _ = await first.coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                                  offsets: [OffsetCommitEntry(partition: p0, offset: 100, leaderEpoch: 2, metadata: "x")])
        _ = await first.coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                                  offsets: [OffsetCommitEntry(partition: p0, offset: 120)])
        _ = await first.coordinator.commitOffsets(groupId: "solo", generationId: -1, memberId: "", groupInstanceId: nil,
                                                  offsets: [OffsetCommitEntry(partition: p0, offset: 5)])

        let restarted = try await GroupFixture.make(store: store)
        let coordinator = restarted.coordinator
        #expect(await coordinator.state(of: "g") == .stable)
        #expect(await coordinator.generation(of: "g") == 1)
        #expect(await coordinator.memberIds(of: "g") == [memberId])
        #expect(await coordinator.leader(of: "g") == memberId)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset?.offset == 120)
        #expect(await coordinator.fetchOffsets(groupId: "solo", partitions: [p0]).partitions.first?.offset?.offset == 5)
        #expect(await coordinator.state(of: "solo") == .empty)
        // The loaded member keeps its session and assignment.
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil) == .none)
        let sync = await coordinator.syncGroup(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                               protocolType: nil, protocolName: nil, assignments: [:])
        #expect(sync.assignment == ByteBuffer(string: "orders-0"))
        // A loaded member that never heartbeats expires like any other.
        restarted.clock.advance(by: 1001)
        await coordinator.runTimers()
        #expect(await coordinator.memberIds(of: "g").isEmpty)
        #expect(await coordinator.state(of: "g") == .empty)
    }

    @Test func deletingAGroupWritesTombstonesSoCompactionForgetsIt() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        _ = await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: p0, offset: 1)])
        #expect(await coordinator.deleteGroups(["g"]) == [.nonEmptyGroup])
        _ = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: memberId)])
        #expect(await eventually { fixture.store.records(in: coordinator.partition(for: "g")).count == 3 })
        #expect(await coordinator.deleteGroups(["g", "missing", ""]) == [.none, .groupIdNotFound, .groupIdNotFound])
        #expect(await coordinator.state(of: "g") == nil)
        let records = fixture.store.records(in: coordinator.partition(for: "g"))
        let tombstones = records.suffix(2)
        #expect(tombstones.allSatisfy { $0.value == nil })
        fixture.store.compact()
        #expect(fixture.store.records(in: coordinator.partition(for: "g")).isEmpty)
        let restarted = try await GroupFixture.make(store: fixture.store)
        #expect(await restarted.coordinator.state(of: "g") == nil)
    }

    @Test func tombstonesInTheLogRemoveWhatEarlierRecordsLoaded() async throws {
        let fixture = try await GroupFixture.make()
        _ = await fixture.coordinator.commitOffsets(groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: p0, offset: 1)])
        #expect(await fixture.coordinator.deleteGroups(["g"]) == [.none])
        let restarted = try await GroupFixture.make(store: fixture.store)
        #expect(await restarted.coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset == nil)
        #expect(await restarted.coordinator.state(of: "g") == nil)
    }

    @Test func offsetsOfAnEmptyGroupExpireAfterTheRetentionAndTheGroupIsRemoved() async throws {
        let fixture = try await GroupFixture.make { $0.offsetsRetentionMinutes = 1; $0.offsetsRetentionCheckIntervalMs = 1000 }
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        _ = await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: p0, offset: 8)])
        // While the member is active (its subscription is not decodable, so all topics count as used), offsets stay.
        fixture.clock.advance(by: 30_000)
        _ = await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil)
        _ = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: memberId)])
        #expect(await coordinator.state(of: "g") == .empty)
        fixture.clock.advance(by: 59_000)
        await coordinator.runTimers()
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset?.offset == 8)
        fixture.clock.advance(by: 2_000)
        await coordinator.runTimers()
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset == nil)
        #expect(await coordinator.state(of: "g") == nil)
        let last = fixture.store.records(in: coordinator.partition(for: "g")).suffix(2)
        #expect(last.allSatisfy { $0.value == nil })
    }

    @Test func offsetsWithAnExplicitRetentionExpireAtTheirOwnTime() async throws {
        let fixture = try await GroupFixture.make { $0.offsetsRetentionCheckIntervalMs = 10 }
        let coordinator = fixture.coordinator
        _ = await coordinator.commitOffsets(groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
                                            retentionTimeMs: 500, offsets: [OffsetCommitEntry(partition: p0, offset: 1)])
        fixture.clock.advance(by: 499)
        await coordinator.runTimers()
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset != nil)
        fixture.clock.advance(by: 10)
        await coordinator.runTimers()
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset == nil)
    }

    @Test func aGroupLoadedOverALoweredMaxSizeRebalancesDownToTheLimit() async throws {
        let store = InMemoryGroupLogStore()
        let first = try await GroupFixture.make(store: store)
        var ids: [String] = []
        for _ in 0..<3 { ids.append(await obtainMemberId(first.coordinator, joinParameters())) }
        let joined = await withTaskGroup(of: JoinGroupResult.self) { group in
            for id in ids { group.addTask { await first.coordinator.joinGroup(joinParameters(memberId: id)) } }
            var all: [JoinGroupResult] = []
            for await result in group { all.append(result) }
            return all
        }
        let leader = try #require(joined.first { $0.memberId == $0.leaderId })
        _ = await first.coordinator.syncGroup(groupId: "g", generationId: 1, memberId: leader.memberId, groupInstanceId: nil,
                                              protocolType: nil, protocolName: nil, assignments: [:])

        let restarted = try await GroupFixture.make(store: store) { $0.maxSize = 2 }
        let coordinator = restarted.coordinator
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        let (firstId, secondId, thirdId) = (ids[0], ids[1], ids[2])
        async let a = coordinator.joinGroup(joinParameters(memberId: firstId))
        async let b = coordinator.joinGroup(joinParameters(memberId: secondId))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 2 })
        let refused = await coordinator.joinGroup(joinParameters(memberId: thirdId))
        #expect(refused.error == .groupMaxSizeReached)
        let results = await [a, b]
        #expect(results.allSatisfy { $0.error == .none && $0.generationId == 2 })
        #expect(Set(await coordinator.memberIds(of: "g")) == [firstId, secondId])
    }

    @Test func requestsForUnownedOrLoadingPartitionsAreRedirectedOrRetried() async throws {
        let store = SlowLoadingStore()
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.offsetsTopicPartitions = 1
        let coordinator = GroupCoordinator(config: config, store: store, clock: ManualGroupClock())
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: "m", groupInstanceId: nil) == .notCoordinator)
        async let loading: Void = coordinator.loadPartition(0)
        #expect(await eventually { store.loading })
        #expect(await coordinator.joinGroup(joinParameters()).error == .coordinatorLoadInProgress)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: nil).error == .coordinatorLoadInProgress)
        store.finish()
        try await loading
        #expect(await coordinator.joinGroup(joinParameters(session: 6000)).error == .memberIdRequired)
        await coordinator.unloadPartition(0)
        #expect(await coordinator.joinGroup(joinParameters(session: 6000)).error == .notCoordinator)
    }
}

/// A store whose load waits until the test finishes it.
final class SlowLoadingStore: GroupLogStore {
    private let state = Mutex<(loading: Bool, finished: Bool)>((false, false))
    var loading: Bool { state.withLock { $0.loading } }
    func finish() { state.withLock { $0.finished = true } }

    func append(partition: Int32, records: [GroupLogRecord], producer: GroupLogProducer?) async throws(GroupLogStoreError) {}

    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] {
        state.withLock { $0.loading = true }
        for _ in 0..<5000 where !state.withLock({ $0.finished }) {
            try? await Task.sleep(for: .milliseconds(1))
        }
        return []
    }
}
