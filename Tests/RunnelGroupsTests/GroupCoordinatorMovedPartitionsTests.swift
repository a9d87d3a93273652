// Tests of the moved partitions after a fence (GroupCoordinator+MovedPartitions): the first generation
// after it hands the fenced members their assignment without the moved topics (alias names included), its
// commits of them are refused, a rebalance follows once every member has its assignment, and the next
// generation is handed out untouched; a member that kept old positions has them left out once more;
// ConsumerProtocolAssignment rewriting keeps versions and user data.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorMovedPartitionsTests {
    let moved = TopicPartition(topic: "events_v2", partition: 0)

    static func assignment(_ topics: [String: [Int32]], version: Int16 = 1, userData: String? = "ud",
                           trailing: [UInt8] = []) -> ByteBuffer {
        var value = ConsumerProtocolAssignment()
        value.assignedPartitions = topics.sorted { $0.key < $1.key }.map { topic, partitions in
            var entry = ConsumerProtocolAssignment.TopicPartition()
            entry.topic = topic
            entry.partitions = partitions
            return entry
        }
        value.userData = userData.map { ByteBuffer(string: $0) }
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        try? value.encode(to: &buffer, version: min(version, ConsumerProtocolAssignment.validVersions.upperBound))
        buffer.writeBytes(trailing)
        return buffer
    }

    @Test func theFirstGenerationAfterAFenceLeavesTheMovedPartitionsOutThenTheNextAssignsThem() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        let full = Self.assignment(["serving": [0, 1], "other": [0]])
        let fence = await coordinator.fenceAndCommit(groupId: "g", offsets: [OffsetCommitEntry(partition: moved, offset: 40)],
                                                     assignmentNames: ["serving"], reason: "test")
        #expect(fence.error == .none)
        // Generation 2: the leader assigns as before; the member gets its assignment without "serving".
        let joined = await coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(joined.error == .none && joined.generationId == 2)
        let synced = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: memberId, groupInstanceId: nil,
                                                 protocolType: "consumer", protocolName: "range",
                                                 assignments: [memberId: full])
        #expect(synced.error == .none)
        #expect(synced.assignment == Self.assignment(["other": [0]]))
        #expect(await coordinator.memberHoldsOldPositions(groupId: "g", memberId: memberId, generationId: 2) == 2000)
        // Its revoke-time commit of the moved topic (a position learned in the old target) is refused; others pass.
        let commits = await coordinator.commitOffsets(
            groupId: "g", generationId: 2, memberId: memberId, groupInstanceId: nil,
            offsets: [OffsetCommitEntry(partition: moved, offset: 500),
                      OffsetCommitEntry(partition: TopicPartition(topic: "other", partition: 0), offset: 9)])
        #expect(commits == [.rebalanceInProgress, .none])
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [moved]).partitions.first?.offset?.offset == 40)
        // Everyone has its assignment: a rebalance assigns the moved partitions again.
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        let rejoined = await coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(rejoined.error == .none && rejoined.generationId == 3)
        let resynced = await coordinator.syncGroup(groupId: "g", generationId: 3, memberId: memberId, groupInstanceId: nil,
                                                   protocolType: "consumer", protocolName: "range",
                                                   assignments: [memberId: full])
        #expect(resynced.assignment == full)
        #expect(await coordinator.state(of: "g") == .stable)
        #expect(await coordinator.memberHoldsOldPositions(groupId: "g", memberId: memberId, generationId: 3) == nil)
        let later = await coordinator.commitOffsets(groupId: "g", generationId: 3, memberId: memberId, groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: moved, offset: 41)])
        #expect(later == [.none])
    }

    @Test func aMemberThatKeptOldPositionsHasTheMovedPartitionsLeftOutOnceMore() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        let full = Self.assignment(["serving": [0, 1], "other": [0]])
        _ = await coordinator.fenceAndCommit(groupId: "g", offsets: [OffsetCommitEntry(partition: moved, offset: 40)],
                                             assignmentNames: ["serving"], reason: "test")
        for generation: Int32 in [2, 3] {  // left out, then assigned again: the move is over
            _ = await coordinator.joinGroup(joinParameters(memberId: memberId))
            _ = await coordinator.syncGroup(groupId: "g", generationId: generation, memberId: memberId, groupInstanceId: nil,
                                            protocolType: "consumer", protocolName: "range", assignments: [memberId: full])
        }
        #expect(await coordinator.state(of: "g") == .stable)
        // Its client showed it kept a position from before the move (it never applied generation 2's answer).
        #expect(await coordinator.leaveMovedPartitionsOutAgain(groupId: "g", memberIds: [memberId, "gone"],
                                                               targets: ["events_v2"], assignmentNames: ["serving"]) == [memberId])
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        let commits = await coordinator.commitOffsets(groupId: "g", generationId: 3, memberId: memberId, groupInstanceId: nil,
                                                      offsets: [OffsetCommitEntry(partition: moved, offset: 500)])
        #expect(commits == [.rebalanceInProgress])
        _ = await coordinator.joinGroup(joinParameters(memberId: memberId))
        let stripped = await coordinator.syncGroup(groupId: "g", generationId: 4, memberId: memberId, groupInstanceId: nil,
                                                   protocolType: "consumer", protocolName: "range", assignments: [memberId: full])
        #expect(stripped.assignment == Self.assignment(["other": [0]]))
        #expect(await coordinator.memberHoldsOldPositions(groupId: "g", memberId: memberId, generationId: 4) != nil)
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        _ = await coordinator.joinGroup(joinParameters(memberId: memberId))
        let again = await coordinator.syncGroup(groupId: "g", generationId: 5, memberId: memberId, groupInstanceId: nil,
                                                protocolType: "consumer", protocolName: "range", assignments: [memberId: full])
        #expect(again.assignment == full)
        #expect(await coordinator.state(of: "g") == .stable)
        // Members no longer in the group, or a group not here: nothing to do.
        #expect(await coordinator.leaveMovedPartitionsOutAgain(groupId: "g", memberIds: ["gone"], targets: ["events_v2"],
                                                               assignmentNames: []) == [])
        #expect(await coordinator.leaveMovedPartitionsOutAgain(groupId: "nope", memberIds: [memberId], targets: ["events_v2"],
                                                               assignmentNames: []) == [])
    }

    @Test func theFollowUpRebalanceWaitsForEveryMembersAssignment() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let first = await stableSingleMemberGroup(coordinator)
        let (leader, follower) = await addSecondMember(coordinator, first: first)
        _ = await coordinator.syncGroup(groupId: "g", generationId: leader.generationId, memberId: leader.memberId,
                                        groupInstanceId: nil, protocolType: "consumer", protocolName: "range",
                                        assignments: [:])
        _ = await coordinator.syncGroup(groupId: "g", generationId: follower.generationId, memberId: follower.memberId,
                                        groupInstanceId: nil, protocolType: "consumer", protocolName: "range",
                                        assignments: [:])
        _ = await coordinator.fenceAndCommit(groupId: "g", offsets: [OffsetCommitEntry(partition: moved, offset: 40)],
                                             assignmentNames: ["serving"], reason: "test")
        async let followerJoin = coordinator.joinGroup(joinParameters(memberId: follower.memberId, clientId: "second"))
        let leaderJoin = await coordinator.joinGroup(joinParameters(memberId: leader.memberId))
        let generation = leaderJoin.generationId
        _ = await followerJoin
        let assignments = [leader.memberId: Self.assignment(["serving": [0]]),
                           follower.memberId: Self.assignment(["serving": [1]])]
        let newLeader = leaderJoin.leaderId
        let other = newLeader == leader.memberId ? follower.memberId : leader.memberId
        let leaderSync = await coordinator.syncGroup(groupId: "g", generationId: generation, memberId: newLeader,
                                                     groupInstanceId: nil, protocolType: "consumer", protocolName: "range",
                                                     assignments: assignments)
        #expect(leaderSync.assignment == Self.assignment([:]))
        // The other member has not asked for its assignment yet: no rebalance takes it away before it has it.
        #expect(await coordinator.state(of: "g") == .stable)
        let otherSync = await coordinator.syncGroup(groupId: "g", generationId: generation, memberId: other,
                                                    groupInstanceId: nil, protocolType: "consumer", protocolName: "range",
                                                    assignments: [:])
        #expect(otherSync.error == .none && otherSync.assignment == Self.assignment([:]))
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
    }

    @Test func aCoordinatorLoadingTheGroupAfterAFailoverGoesOnWithTheFence() async throws {
        let store = InMemoryGroupLogStore()
        let first = try await GroupFixture.make(store: store)
        let memberId = await stableSingleMemberGroup(first.coordinator)
        _ = await first.coordinator.fenceAndCommit(groupId: "g", offsets: [OffsetCommitEntry(partition: moved, offset: 40)],
                                                   assignmentNames: ["serving"], reason: "test")
        // Another coordinator loads the partition before the member rejoined.
        let loaded = try await GroupFixture.make(store: store)
        let coordinator = loaded.coordinator
        #expect(await coordinator.state(of: "g") == .preparingRebalance)
        #expect(await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil)
                == .rebalanceInProgress)
        let late = await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                                   offsets: [OffsetCommitEntry(partition: moved, offset: 500)])
        #expect(late == [.rebalanceInProgress])
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [moved]).partitions.first?.offset?.offset == 40)
        let joined = await coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(joined.error == .none && joined.generationId == 2)
        let synced = await coordinator.syncGroup(groupId: "g", generationId: 2, memberId: memberId, groupInstanceId: nil,
                                                 protocolType: "consumer", protocolName: "range",
                                                 assignments: [memberId: Self.assignment(["serving": [0]])])
        #expect(synced.assignment == Self.assignment([:]))
        // Loaded again now (the record of generation 2, written before the follow-up rebalance): it rebalances.
        let again = try await GroupFixture.make(store: store)
        #expect(await again.coordinator.state(of: "g") == .preparingRebalance)
        let rejoined = await again.coordinator.joinGroup(joinParameters(memberId: memberId))
        #expect(rejoined.error == .none && rejoined.generationId == 3)
    }

    @Test func groupRecordsWithoutAFenceStayVersion3() throws {
        var value = GroupMetadataValue()
        value.protocolType = "consumer"
        var plain = try GroupRecordCodec.groupMetadataValue(value)
        #expect(plain.readInteger(as: Int16.self) == 3)
        value.unknownTaggedFields = [TaggedField(tag: PersistedGroupMove.tag, data: ByteBuffer(string: "{}"))]
        let tagged = try GroupRecordCodec.groupMetadataValue(value)
        #expect(tagged.getInteger(at: tagged.readerIndex, as: Int16.self) == 4)
        let key = try GroupRecordCodec.groupMetadataKey(group: "g")
        guard case .groupMetadata(_, let decoded?) = try GroupRecordCodec.decode(GroupLogRecord(key: key, value: tagged)) else {
            Issue.record("not decoded as group metadata")
            return
        }
        #expect(decoded.unknownTaggedFields == value.unknownTaggedFields)
    }

    @Test func assignmentsKeepTheirVersionUserDataAndLaterFields() {
        let names: Set<String> = ["serving", "events_v2"]
        // Version 3 with user data: only the moved topic goes.
        let v3 = Self.assignment(["serving": [0, 1], "keep": [2]], version: 3, userData: "sticky")
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: v3) == Self.assignment(["keep": [2]], version: 3, userData: "sticky"))
        // A version this build does not know: read as the newest known, the bytes after kept.
        let v9 = Self.assignment(["events_v2": [0], "keep": [1]], version: 9, userData: nil, trailing: [1, 2, 3])
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: v9)
                == Self.assignment(["keep": [1]], version: 9, userData: nil, trailing: [1, 2, 3]))
        // Nothing to remove, or not a consumer assignment: left alone.
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: Self.assignment(["keep": [0]])) == nil)
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: ByteBuffer(string: "a1")) == nil)
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: ByteBuffer()) == nil)
        var negative = ByteBuffer()
        negative.writeInteger(Int16(-1))
        #expect(ConsumerAssignmentFilter.removing(topics: names, from: negative) == nil)
    }
}
