// Tests of fenceAndCommit (alias swaps moving a running group): the old generation's commits are
// refused, the offsets written in the fence step stay, and the next generation commits again.
import KafkaProtocol
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorFenceTests {
    let new = TopicPartition(topic: "events_v2", partition: 0)

    @Test func aFencedGenerationCannotOverwriteTheMovedOffsets() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        func commit(_ generation: Int32, _ offset: Int64) async -> ErrorCode {
            await coordinator.commitOffsets(groupId: "g", generationId: generation, memberId: memberId, groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: new, offset: offset)]).first ?? .unknownServerError
        }
        let fence = await coordinator.fenceAndCommit(groupId: "g", offsets: [OffsetCommitEntry(partition: new, offset: 40)],
                                                     reason: "test")
        #expect(fence.error == .none)
        #expect(fence.members == [GroupFence.Client(memberId: memberId, clientId: "client", clientHost: "/127.0.0.1")])
        #expect(fence.rebalanceTimeoutMs == 2000)
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        // The member's commit on revoke (generation 1, a position learned in the old target) is refused.
        #expect(await commit(1, 500) == .rebalanceInProgress)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [new]).partitions.first?.offset?.offset == 40)
        // It rejoins: generation 2 commits again.
        let joined = await coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(joined.error == .none && joined.generationId == 2)
        _ = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: memberId, groupInstanceId: nil,
                                        protocolType: "consumer", protocolName: "range", assignments: [:])
        #expect(await commit(2, 41) == .none)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [new]).partitions.first?.offset?.offset == 41)
    }

    @Test func aGroupWithoutMembersJustGetsTheOffsets() async throws {
        let fixture = try await GroupFixture.make()
        let fence = await fixture.coordinator.fenceAndCommit(groupId: "stopped", offsets: [OffsetCommitEntry(partition: new, offset: 7)],
                                                             reason: "test")
        #expect(fence.error == .none && fence.members.isEmpty)
        #expect(await fixture.coordinator.fetchOffsets(groupId: "stopped", partitions: [new]).partitions.first?.offset?.offset == 7)
        #expect(await fixture.coordinator.state(of: "stopped") == .empty)
    }
}
