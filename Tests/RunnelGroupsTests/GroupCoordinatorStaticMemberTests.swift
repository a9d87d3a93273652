// Tests of static membership (KIP-345): a restarted instance takes over its slot without a rebalance,
// the replaced member id is fenced, and leaving by instance id.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorStaticMemberTests {
    /// A static member "i1" alone in a stable group; returns its member id.
    private func stableStaticGroup(_ coordinator: GroupCoordinator) async -> String {
        let joined = await coordinator.joinGroup(joinParameters(instanceId: "i1"))
        #expect(joined.error == .none)
        #expect(joined.memberId.hasPrefix("i1-"))
        _ = await coordinator.syncGroup(groupId: "g", generationId: joined.generationId, memberId: joined.memberId,
                                        groupInstanceId: "i1", protocolType: nil, protocolName: nil,
                                        assignments: [joined.memberId: ByteBuffer(string: "A")])
        return joined.memberId
    }

    @Test func staticMembersJoinWithoutTheMemberIdRoundTrip() async throws {
        let fixture = try await GroupFixture.make()
        _ = await stableStaticGroup(fixture.coordinator)
        #expect(await fixture.coordinator.state(of: "g") == .stable)
    }

    @Test func aRestartedInstanceReplacesItsOldMemberIdWithoutARebalance() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let oldId = await stableStaticGroup(coordinator)
        let rejoined = await coordinator.joinGroup(joinParameters(instanceId: "i1"))
        #expect(rejoined.error == .none)
        #expect(rejoined.memberId != oldId)
        #expect(rejoined.generationId == 1)
        // It was the leader: KIP-814 tells it to skip the assignment.
        #expect(rejoined.skipAssignment)
        #expect(await coordinator.state(of: "g") == .stable)
        let sync = await coordinator.syncGroup(groupId: "g", generationId: 1, memberId: rejoined.memberId,
                                               groupInstanceId: "i1", protocolType: nil, protocolName: nil, assignments: [:])
        #expect(sync.assignment == ByteBuffer(string: "A"))
        // The old incarnation is fenced everywhere.
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: oldId, groupInstanceId: "i1")
                == .fencedInstanceId)
        #expect(await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: oldId, groupInstanceId: "i1",
                                                offsets: [OffsetCommitEntry(partition: TopicPartition(topic: "t", partition: 0), offset: 1)])
                == [.fencedInstanceId])
        #expect(await coordinator.joinGroup(joinParameters(memberId: oldId, instanceId: "i1")).error == .fencedInstanceId)
        #expect(await coordinator.syncGroup(groupId: "g", generationId: 1, memberId: oldId, groupInstanceId: "i1",
                                            protocolType: nil, protocolName: nil, assignments: [:]).error == .fencedInstanceId)
    }

    @Test func aRestartedLeaderThatCannotSkipTheAssignmentIsAnsweredAsAFollower() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let oldId = await stableStaticGroup(coordinator)
        // JoinGroup v5-8 has no SkipAssignment: as Kafka does, no member list and the previous leader id.
        var parameters = joinParameters(instanceId: "i1")
        parameters.supportsSkippingAssignment = false
        let rejoined = await coordinator.joinGroup(parameters)
        #expect(rejoined.error == .none)
        #expect(rejoined.generationId == 1)
        #expect(rejoined.members.isEmpty)
        #expect(rejoined.leaderId == oldId)
        #expect(!rejoined.skipAssignment)
        #expect(await coordinator.leader(of: "g") == rejoined.memberId)
        #expect(await coordinator.state(of: "g") == .stable)
        let sync = await coordinator.syncGroup(groupId: "g", generationId: 1, memberId: rejoined.memberId,
                                               groupInstanceId: "i1", protocolType: nil, protocolName: nil, assignments: [:])
        #expect(sync.assignment == ByteBuffer(string: "A"))
    }

    @Test func aRestartedInstanceWhoseNewIdCannotBeStoredKeepsTheOldIdValid() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let oldId = await stableStaticGroup(coordinator)
        fixture.store.failAppends(with: GroupLogStoreError(.unknownServerError, "record too large"))
        let rejoined = await coordinator.joinGroup(joinParameters(instanceId: "i1"))
        #expect(rejoined.error == .unknownServerError)
        #expect(rejoined.memberId.isEmpty)
        #expect(rejoined.generationId == 1)
        fixture.store.failAppends(with: nil)
        #expect(await coordinator.memberIds(of: "g") == [oldId])
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: oldId, groupInstanceId: "i1") == .none)
        #expect(await coordinator.state(of: "g") == .stable)
    }

    @Test func aReplacedInstanceParkedInJoinGroupIsToldItWasFenced() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        // A pending dynamic member keeps the first rebalance open while the static member waits in it.
        let dynamicId = await obtainMemberId(coordinator, joinParameters())
        async let oldInstance = coordinator.joinGroup(joinParameters(instanceId: "i1"))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        async let newInstance = coordinator.joinGroup(joinParameters(instanceId: "i1"))
        let fenced = await oldInstance
        #expect(fenced.error == .fencedInstanceId)
        let dynamic = await coordinator.joinGroup(joinParameters(memberId: dynamicId))
        let replacement = await newInstance
        #expect(dynamic.error == .none && replacement.error == .none)
        #expect(dynamic.generationId == 1 && replacement.generationId == 1)
        #expect(Set(await coordinator.memberIds(of: "g")) == [dynamicId, replacement.memberId])
        #expect(!(await coordinator.memberIds(of: "g").contains(fenced.memberId)))
    }

    @Test func aStaticMemberCanLeaveByInstanceIdAlone() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableStaticGroup(coordinator)
        let wrongPair = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: "other", groupInstanceId: "i1")])
        #expect(wrongPair.members.map(\.error) == [.fencedInstanceId])
        let unknown = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: "", groupInstanceId: "i9")])
        #expect(unknown.members.map(\.error) == [.unknownMemberId])
        let left = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: "", groupInstanceId: "i1")])
        #expect(left.members.map(\.error) == [.none])
        #expect(await coordinator.memberIds(of: "g").isEmpty)
        #expect(!(await coordinator.memberIds(of: "g").contains(memberId)))
        #expect(await coordinator.state(of: "g") == .empty)
    }

    @Test func aStaticMemberThatMissesTheRebalanceStaysUntilItsSessionExpires() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let staticId = await stableStaticGroup(coordinator)
        let dynamicId = await obtainMemberId(coordinator, joinParameters())
        async let dynamic = coordinator.joinGroup(joinParameters(memberId: dynamicId))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        // The rebalance timeout passes without the static member; it keeps its slot (static members are
        // not dropped by the join deadline) until its session runs out.
        for step: Int64 in [999, 1000] {
            fixture.clock.advance(by: step)
            #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: staticId, groupInstanceId: "i1")
                    == .rebalanceInProgress)
            await coordinator.runTimers()
        }
        fixture.clock.advance(by: 1)
        await coordinator.runTimers()
        let result = await dynamic
        #expect(result.error == .none)
        #expect(Set(await coordinator.memberIds(of: "g")) == [staticId, dynamicId])
        fixture.clock.advance(by: 999)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: result.generationId, memberId: dynamicId,
                                            groupInstanceId: nil) == .none)
        fixture.clock.advance(by: 1)
        await coordinator.runTimers()
        #expect(await coordinator.memberIds(of: "g") == [dynamicId])
    }
}
