// Tests of OffsetCommit and OffsetFetch: round trip, generation/member checks, metadata size,
// require_stable, and store failures.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorOffsetTests {
    let p0 = TopicPartition(topic: "orders", partition: 0)
    let p1 = TopicPartition(topic: "orders", partition: 1)

    @Test func committedOffsetsAreFetchedWithMetadataAndLeaderEpoch() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await stableSingleMemberGroup(fixture.coordinator)
        let errors = await fixture.coordinator.commitOffsets(
            groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
            offsets: [OffsetCommitEntry(partition: p0, offset: 42, leaderEpoch: 3, metadata: "m"),
                      OffsetCommitEntry(partition: p1, offset: 7)])
        #expect(errors == [.none, .none])
        let fetched = await fixture.coordinator.fetchOffsets(groupId: "g", partitions: [p0, p1, TopicPartition(topic: "x", partition: 0)])
        #expect(fetched.error == .none)
        #expect(fetched.partitions[0].offset?.offset == 42)
        #expect(fetched.partitions[0].offset?.leaderEpoch == 3)
        #expect(fetched.partitions[0].offset?.metadata == "m")
        #expect(fetched.partitions[1].offset?.offset == 7)
        #expect(fetched.partitions[2].offset == nil)
        let all = await fixture.coordinator.fetchOffsets(groupId: "g", partitions: nil)
        #expect(all.partitions.map(\.partition) == [p0, p1])
    }

    @Test func commitsAreFencedByGenerationMemberAndState() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        func commit(_ generation: Int32, _ member: String, instance: String? = nil) async -> ErrorCode {
            await coordinator.commitOffsets(groupId: "g", generationId: generation, memberId: member,
                                            groupInstanceId: instance,
                                            offsets: [OffsetCommitEntry(partition: p0, offset: 1)]).first ?? .unknownServerError
        }
        #expect(await commit(0, memberId) == .illegalGeneration)
        #expect(await commit(1, "ghost") == .unknownMemberId)
        #expect(await commit(-1, "") == .unknownMemberId)
        #expect(await commit(1, memberId) == .none)
        // Offsets for a group that does not exist need a negative generation (admin, simple consumers).
        #expect(await coordinator.commitOffsets(groupId: "solo", generationId: 3, memberId: "m", groupInstanceId: nil,
                                                offsets: [OffsetCommitEntry(partition: p0, offset: 1)]) == [.illegalGeneration])
        #expect(await coordinator.commitOffsets(groupId: "solo", generationId: -1, memberId: "", groupInstanceId: nil,
                                                offsets: [OffsetCommitEntry(partition: p0, offset: 9)]) == [.none])
        #expect(await coordinator.fetchOffsets(groupId: "solo", partitions: [p0]).partitions.first?.offset?.offset == 9)
    }

    @Test func commitsDuringCompletingRebalanceAreRejectedButAllowedWhilePreparing() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let secondId = await obtainMemberId(coordinator, joinParameters())
        async let second = coordinator.joinGroup(joinParameters(memberId: secondId))
        #expect(await eventually { await coordinator.state(of: "g") == .preparingRebalance })
        // Cooperative rebalancing commits while the group prepares its next generation.
        #expect(await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: first, groupInstanceId: nil,
                                                offsets: [OffsetCommitEntry(partition: p0, offset: 5)]) == [.none])
        _ = await coordinator.joinGroup(joinParameters(memberId: first))
        _ = await second
        #expect(await coordinator.state(of: "g") == .completingRebalance)
        #expect(await coordinator.commitOffsets(groupId: "g", generationId: 2, memberId: first, groupInstanceId: nil,
                                                offsets: [OffsetCommitEntry(partition: p0, offset: 6)]) == [.rebalanceInProgress])
    }

    @Test func metadataLongerThanOffsetMetadataMaxBytesIsRejectedPerPartition() async throws {
        let fixture = try await GroupFixture.make { $0.offsetMetadataMaxBytes = 4 }
        let errors = await fixture.coordinator.commitOffsets(
            groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
            offsets: [OffsetCommitEntry(partition: p0, offset: 1, metadata: "12345"),
                      OffsetCommitEntry(partition: p1, offset: 2, metadata: "1234")])
        #expect(errors == [.offsetMetadataTooLarge, .none])
        let fetched = await fixture.coordinator.fetchOffsets(groupId: "g", partitions: [p0, p1])
        #expect(fetched.partitions.map { $0.offset?.offset } == [nil, 2])
    }

    @Test func aFailedWriteAnswersTheStoresErrorAndKeepsTheOldOffset() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        _ = await coordinator.commitOffsets(groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: p0, offset: 1)])
        fixture.store.failAppends(with: GroupLogStoreError(.coordinatorNotAvailable, "disk full"))
        let errors = await coordinator.commitOffsets(groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
                                                     offsets: [OffsetCommitEntry(partition: p0, offset: 2)])
        #expect(errors == [.coordinatorNotAvailable])
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset?.offset == 1)
    }

    @Test func fetchingAnUnknownGroupAnswersNoOffsetsWithoutError() async throws {
        let fixture = try await GroupFixture.make()
        let fetched = await fixture.coordinator.fetchOffsets(groupId: "nobody", partitions: [p0])
        #expect(fetched.error == .none)
        #expect(fetched.partitions.count == 1 && fetched.partitions[0].offset == nil && fetched.partitions[0].error == .none)
        #expect(await fixture.coordinator.fetchOffsets(groupId: "nobody", partitions: nil).partitions.isEmpty)
    }

    @Test func requireStableReportsCommitsStillBeingWritten() async throws {
        let store = SlowGroupLogStore()
        let coordinator = GroupCoordinator(config: GroupCoordinatorConfig.kafkaDefaults, store: store, clock: ManualGroupClock())
        try await coordinator.loadAllPartitions()
        async let commit = coordinator.commitOffsets(groupId: "g", generationId: -1, memberId: "", groupInstanceId: nil,
                                                     offsets: [OffsetCommitEntry(partition: p0, offset: 3)])
        #expect(await eventually { store.waiting > 0 })
        let unstable = await coordinator.fetchOffsets(groupId: "g", partitions: [p0], requireStable: true)
        #expect(unstable.partitions.first?.error == .unstableOffsetCommit)
        let relaxed = await coordinator.fetchOffsets(groupId: "g", partitions: [p0], requireStable: false)
        #expect(relaxed.partitions.first?.error == ErrorCode.none)
        store.release()
        #expect(await commit == [.none])
        let stable = await coordinator.fetchOffsets(groupId: "g", partitions: [p0], requireStable: true)
        #expect(stable.partitions.first?.offset?.offset == 3)
    }
}
