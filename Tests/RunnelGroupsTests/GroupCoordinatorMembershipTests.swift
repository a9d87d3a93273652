// Tests of Heartbeat, LeaveGroup, session and rebalance timeouts, and the fencing error codes.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorMembershipTests {
    @Test func heartbeatsAnswerWithKafkasFencingErrors() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil) == .none)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 0, memberId: memberId, groupInstanceId: nil)
                == .illegalGeneration)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: "ghost", groupInstanceId: nil)
                == .unknownMemberId)
        #expect(await coordinator.heartbeat(groupId: "nope", generationId: 1, memberId: memberId, groupInstanceId: nil)
                == .unknownMemberId)
        #expect(await coordinator.heartbeat(groupId: "", generationId: 1, memberId: memberId, groupInstanceId: nil)
                == .invalidGroupId)
    }

    @Test func syncGroupChecksGenerationProtocolAndState() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await obtainMemberId(coordinator, joinParameters())
        _ = await coordinator.joinGroup(joinParameters(memberId: memberId))
        func sync(generation: Int32 = 1, member: String = memberId, type: String? = "consumer",
                  name: String? = "range") async -> ErrorCode {
            await coordinator.syncGroup(groupId: "g", generationId: generation, memberId: member, groupInstanceId: nil,
                                        protocolType: type, protocolName: name, assignments: [:]).error
        }
        #expect(await sync(generation: 7) == .illegalGeneration)
        #expect(await sync(member: "ghost") == .unknownMemberId)
        #expect(await sync(type: "connect") == .inconsistentGroupProtocol)
        #expect(await sync(name: "roundrobin") == .inconsistentGroupProtocol)
        #expect(await sync() == .none)
    }

    @Test func anExpiredSessionRemovesTheMemberAndRebalancesTheRest() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (leader, follower) = await addSecondMember(coordinator, first: first)
        _ = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: leader.memberId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        _ = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: follower.memberId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        #expect(await coordinator.state(of: "g") == .stable)
        // The follower keeps heartbeating; the leader goes silent past its 1000 ms session.
        fixture.clock.advance(by: 600)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 2, memberId: follower.memberId,
                                            groupInstanceId: nil) == .none)
        fixture.clock.advance(by: 500)
        await coordinator.runTimers()
        #expect(await coordinator.memberIds(of: "g") == [follower.memberId])
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 2, memberId: leader.memberId,
                                            groupInstanceId: nil) == .unknownMemberId)
        let rejoined = await coordinator.joinGroup(joinParameters(memberId: follower.memberId))
        #expect(rejoined.generationId == 3)
        #expect(rejoined.leaderId == follower.memberId)
    }

    @Test func membersThatDoNotRejoinWithinTheRebalanceTimeoutAreDropped() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let secondId = await obtainMemberId(coordinator, joinParameters(rebalance: 2000))
        async let second = coordinator.joinGroup(joinParameters(memberId: secondId, rebalance: 2000))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        // The first member keeps heartbeating but never rejoins.
        for _ in 0..<4 {
            fixture.clock.advance(by: 500)
            _ = await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: first, groupInstanceId: nil)
            await coordinator.runTimers()
        }
        let result = await second
        #expect(result.error == .none)
        #expect(result.generationId == 2)
        #expect(result.leaderId == secondId)
        #expect(await coordinator.memberIds(of: "g") == [secondId])
    }

    @Test func aMemberThatNeverSyncsIsRemovedAfterTheRebalanceTimeout() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (leader, follower) = await addSecondMember(coordinator, first: first)
        _ = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: leader.memberId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        fixture.clock.advance(by: 2001)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 2, memberId: leader.memberId,
                                            groupInstanceId: nil) == .none)
        await coordinator.runTimers()
        #expect(await coordinator.memberIds(of: "g") == [leader.memberId])
        #expect(await coordinator.state(of: "g") != .stable)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 2, memberId: follower.memberId,
                                            groupInstanceId: nil) == .unknownMemberId)
    }

    @Test func aPendingMemberIdExpiresIfTheMemberNeverRejoins() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await obtainMemberId(fixture.coordinator, joinParameters(session: 100))
        fixture.clock.advance(by: 101)
        await fixture.coordinator.runTimers()
        #expect(await fixture.coordinator.joinGroup(joinParameters(memberId: memberId)).error == .unknownMemberId)
    }

    @Test func theLastMemberLeavingEmptiesTheGroupAndBumpsTheGeneration() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await stableSingleMemberGroup(fixture.coordinator)
        let result = await fixture.coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: memberId)])
        #expect(result.error == .none)
        #expect(result.members.map(\.error) == [.none])
        #expect(await fixture.coordinator.state(of: "g") == .empty)
        #expect(await fixture.coordinator.generation(of: "g") == 2)
    }

    @Test func aBatchedLeaveReportsEachMember() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (_, follower) = await addSecondMember(coordinator, first: first)
        let result = await coordinator.leaveGroup(groupId: "g", members: [
            LeavingMember(memberId: follower.memberId), LeavingMember(memberId: "ghost"),
        ])
        #expect(result.members.map(\.error) == [.none, .unknownMemberId])
        #expect(await coordinator.memberIds(of: "g") == [first])
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        let unknownGroup = await coordinator.leaveGroup(groupId: "other", members: [LeavingMember(memberId: "x")])
        #expect(unknownGroup.error == .none && unknownGroup.members.map(\.error) == [.unknownMemberId])
    }

    @Test func aMemberLeavingDuringARebalanceLetsTheOthersComplete() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let secondId = await obtainMemberId(coordinator, joinParameters())
        async let second = coordinator.joinGroup(joinParameters(memberId: secondId))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        _ = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: first)])
        let result = await second
        #expect(result.error == .none)
        #expect(result.generationId == 2)
        #expect(result.leaderId == secondId)
    }

    @Test func aLeaderSyncWhoseRecordCannotBeWrittenFailsTheWholeGeneration() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (leader, follower) = await addSecondMember(coordinator, first: first)
        async let followerSync = coordinator.syncGroup(
            groupId: "g", generationId: 2, memberId: follower.memberId, groupInstanceId: nil,
            protocolType: nil, protocolName: nil, assignments: [:])
        #expect(await eventually { await coordinator.awaitingSyncCount("g") == 1 })
        fixture.store.failAppends(with: GroupLogStoreError(.notCoordinator, "leadership moved"))
        let leaderSync = await coordinator.syncGroup(
            groupId: "g", generationId: 2, memberId: leader.memberId, groupInstanceId: nil,
            protocolType: nil, protocolName: nil, assignments: [:])
        #expect(leaderSync.error == .notCoordinator)
        #expect(await followerSync.error == .notCoordinator)
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
    }
}
