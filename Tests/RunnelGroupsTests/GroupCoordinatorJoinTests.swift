// Tests of JoinGroup and SyncGroup: member id handshake, generations, leader, protocol selection,
// the checks that reject a join, and the initial rebalance delay.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorJoinTests {
    @Test func aJoinWithoutMemberIdIsAnsweredWithMemberIdRequiredAndANewId() async throws {
        let fixture = try await GroupFixture.make()
        let result = await fixture.coordinator.joinGroup(joinParameters(clientId: "app"))
        #expect(result.error == .memberIdRequired)
        #expect(result.memberId.hasPrefix("app-"))
        #expect(result.generationId == -1)
    }

    @Test func aSingleMemberBecomesLeaderOfGenerationOneAndSeesItsOwnMetadata() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await obtainMemberId(fixture.coordinator, joinParameters())
        let joined = await fixture.coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(joined.error == .none)
        #expect(joined.generationId == 1)
        #expect(joined.leaderId == memberId)
        #expect(joined.protocolName == "range")
        #expect(joined.protocolType == "consumer")
        #expect(joined.members.map(\.memberId) == [memberId])
        #expect(joined.members.first?.metadata == ByteBuffer(string: "range:sub"))
        #expect(await fixture.coordinator.state(of: "g") == .completingRebalance)
    }

    @Test func theLeadersSyncStoresTheAssignmentAndMakesTheGroupStable() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await stableSingleMemberGroup(fixture.coordinator, assignment: "p0,p1")
        #expect(await fixture.coordinator.state(of: "g") == .stable)
        let again = await fixture.coordinator.syncGroup(groupId: "g", generationId: 1, memberId: memberId,
                                                        groupInstanceId: nil, protocolType: nil, protocolName: nil,
                                                        assignments: [:])
        #expect(again.assignment == ByteBuffer(string: "p0,p1"))
        // The group metadata record was written with the assignment.
        let records = fixture.store.records(in: fixture.coordinator.partition(for: "g"))
        guard case .groupMetadata(_, let value?)? = try records.last.map(GroupRecordCodec.decode) else {
            Issue.record("no group metadata record")
            return
        }
        #expect(value.generation == 1)
        #expect(value.members.first?.assignment == ByteBuffer(string: "p0,p1"))
    }

    @Test func aSecondMemberRebalancesTheGroupAndOnlyTheLeaderGetsTheMemberList() async throws {
        let fixture = try await GroupFixture.make()
        let first = await stableSingleMemberGroup(fixture.coordinator)
        let (leader, follower) = await addSecondMember(fixture.coordinator, first: first)
        #expect(leader.error == .none && follower.error == .none)
        #expect(leader.generationId == 2 && follower.generationId == 2)
        #expect(leader.leaderId == first)
        #expect(follower.leaderId == first)
        #expect(Set(leader.members.map(\.memberId)) == [leader.memberId, follower.memberId])
        #expect(follower.members.isEmpty)
    }

    @Test func followersWaitForTheLeadersSyncAndGetTheirOwnAssignment() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (leader, follower) = await addSecondMember(coordinator, first: first)
        async let followerSync = coordinator.syncGroup(
            groupId: "g", generationId: 2, memberId: follower.memberId, groupInstanceId: nil,
            protocolType: "consumer", protocolName: "range", assignments: [:])
        #expect(await eventually { await coordinator.awaitingSyncCount("g") == 1 })
        let leaderSync = await coordinator.syncGroup(
            groupId: "g", generationId: 2, memberId: leader.memberId, groupInstanceId: nil, protocolType: "consumer",
            protocolName: "range", assignments: [leader.memberId: ByteBuffer(string: "L"),
                                                 follower.memberId: ByteBuffer(string: "F")])
        #expect(leaderSync.assignment == ByteBuffer(string: "L"))
        let synced = await followerSync
        #expect(synced.error == .none)
        #expect(synced.assignment == ByteBuffer(string: "F"))
        #expect(synced.protocolName == "range")
        #expect(await coordinator.state(of: "g") == .stable)
    }

    @Test func theProtocolMostMembersPreferAmongThoseAllSupportIsSelected() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let a = await obtainMemberId(coordinator, joinParameters(protocols: protocols("cooperative-sticky", "range")))
        let b = await obtainMemberId(coordinator, joinParameters(protocols: protocols("roundrobin", "range")))
        let c = await obtainMemberId(coordinator, joinParameters(protocols: protocols("range", "cooperative-sticky")))
        async let ja = coordinator.joinGroup(joinParameters(memberId: a, protocols: protocols("cooperative-sticky", "range")))
        async let jb = coordinator.joinGroup(joinParameters(memberId: b, protocols: protocols("roundrobin", "range")))
        async let jc = coordinator.joinGroup(joinParameters(memberId: c, protocols: protocols("range", "cooperative-sticky")))
        let results = await [ja, jb, jc]
        // Only "range" is supported by all three.
        #expect(results.allSatisfy { $0.error == .none && $0.protocolName == "range" })
        #expect(Set(results.map(\.generationId)) == [1])
    }

    @Test func aMemberWithAnotherProtocolTypeOrNoCommonProtocolIsRejected() async throws {
        let fixture = try await GroupFixture.make()
        _ = await stableSingleMemberGroup(fixture.coordinator)
        let otherType = await fixture.coordinator.joinGroup(joinParameters(protocolType: "connect"))
        #expect(otherType.error == .inconsistentGroupProtocol)
        let noCommon = await fixture.coordinator.joinGroup(joinParameters(protocols: protocols("roundrobin")))
        #expect(noCommon.error == .inconsistentGroupProtocol)
        let empty = await fixture.coordinator.joinGroup(joinParameters("fresh", protocols: []))
        #expect(empty.error == .inconsistentGroupProtocol)
    }

    @Test func sessionTimeoutsOutsideTheConfiguredRangeAreRejected() async throws {
        let fixture = try await GroupFixture.make { $0.minSessionTimeoutMs = 100; $0.maxSessionTimeoutMs = 500 }
        #expect(await fixture.coordinator.joinGroup(joinParameters(session: 99)).error == .invalidSessionTimeout)
        #expect(await fixture.coordinator.joinGroup(joinParameters(session: 501)).error == .invalidSessionTimeout)
        #expect(await fixture.coordinator.joinGroup(joinParameters(session: 100)).error == .memberIdRequired)
    }

    @Test func joinsBeyondGroupMaxSizeAreRejected() async throws {
        let fixture = try await GroupFixture.make { $0.maxSize = 2 }
        let coordinator = fixture.coordinator
        let ids = [await obtainMemberId(coordinator, joinParameters()), await obtainMemberId(coordinator, joinParameters()),
                   await obtainMemberId(coordinator, joinParameters())]
        let (a, b, c) = (ids[0], ids[1], ids[2])
        async let first = coordinator.joinGroup(joinParameters(memberId: a))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        async let second = coordinator.joinGroup(joinParameters(memberId: b))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 2 })
        // The third is refused, and no longer holds up the rebalance as a pending member.
        #expect(await coordinator.joinGroup(joinParameters(memberId: c)).error == .groupMaxSizeReached)
        let results = await [first, second]
        #expect(results.allSatisfy { $0.error == .none && $0.generationId == 1 })
        _ = await coordinator.syncGroup(groupId: "g", generationId: 1, memberId: results[0].leaderId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        #expect(await coordinator.joinGroup(joinParameters(memberId: "")).error == .groupMaxSizeReached)
    }

    @Test func anEmptyGroupIdIsInvalidAndAnUnknownMemberIdIsRejected() async throws {
        let fixture = try await GroupFixture.make()
        #expect(await fixture.coordinator.joinGroup(joinParameters("")).error == .invalidGroupId)
        #expect(await fixture.coordinator.joinGroup(joinParameters(memberId: "ghost")).error == .unknownMemberId)
        _ = await stableSingleMemberGroup(fixture.coordinator)
        #expect(await fixture.coordinator.joinGroup(joinParameters(memberId: "ghost")).error == .unknownMemberId)
    }

    @Test func olderClientsJoinInOneStepWithoutMemberIdRequired() async throws {
        let fixture = try await GroupFixture.make()
        let joined = await fixture.coordinator.joinGroup(joinParameters(requireKnownMemberId: false))
        #expect(joined.error == .none)
        #expect(joined.generationId == 1)
        #expect(!joined.memberId.isEmpty)
    }

    @Test func theInitialRebalanceDelayHoldsTheFirstRebalanceUntilItExpires() async throws {
        let fixture = try await GroupFixture.make { $0.initialRebalanceDelayMs = 100 }
        let coordinator = fixture.coordinator
        let a = await obtainMemberId(coordinator, joinParameters())
        async let first = coordinator.joinGroup(joinParameters(memberId: a))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 1 })
        // A second member arrives during the delay, which extends it once.
        let b = await obtainMemberId(coordinator, joinParameters())
        async let second = coordinator.joinGroup(joinParameters(memberId: b))
        #expect(await eventually { await coordinator.awaitingJoinCount("g") == 2 })
        fixture.clock.advance(by: 100)
        await coordinator.runTimers()
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        fixture.clock.advance(by: 100)
        await coordinator.runTimers()
        let results = await [first, second]
        #expect(results.allSatisfy { $0.error == .none && $0.generationId == 1 })
    }

    @Test func aRetriedJoinDuringCompletingRebalanceGetsTheSameGeneration() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await obtainMemberId(fixture.coordinator, joinParameters())
        let joined = await fixture.coordinator.joinGroup(joinParameters(memberId: memberId))
        let retried = await fixture.coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(retried.error == .none)
        #expect(retried.generationId == joined.generationId)
        #expect(await fixture.coordinator.generation(of: "g") == 1)
    }

    @Test func hundredsOfConcurrentJoinsEndInOneGenerationWithOneLeader() async throws {
        let fixture = try await GroupFixture.make { $0.initialRebalanceDelayMs = 0 }
        let coordinator = fixture.coordinator
        let count = 300
        var ids: [String] = []
        for _ in 0..<count { ids.append(await obtainMemberId(coordinator, joinParameters("storm"))) }
        let results = await withTaskGroup(of: JoinGroupResult.self) { group in
            for id in ids { group.addTask { await coordinator.joinGroup(joinParameters("storm", memberId: id)) } }
            var all: [JoinGroupResult] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == count)
        #expect(results.allSatisfy { $0.error == .none })
        #expect(Set(results.map(\.generationId)).count == 1)
        let leaders = results.filter { $0.memberId == $0.leaderId }
        #expect(leaders.count == 1)
        #expect(leaders.first?.members.count == count)
        #expect(Set(results.map(\.leaderId)).count == 1)
    }
}
