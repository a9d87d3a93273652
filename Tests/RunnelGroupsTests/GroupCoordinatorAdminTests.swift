// Tests of DescribeGroups, ListGroups, DeleteGroups and OffsetDelete at the coordinator level.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupCoordinatorAdminTests {
    /// ConsumerProtocolSubscription v0 bytes (int16 version prefix, then the body) for `topics`.
    static func subscription(_ topics: [String]) throws -> ByteBuffer {
        var value = ConsumerProtocolSubscription()
        value.topics = topics
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(0))
        try value.encode(to: &buffer, version: 0)
        return buffer
    }

    @Test func aStableGroupIsDescribedWithMembersSubscriptionsAndAssignments() async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await stableSingleMemberGroup(fixture.coordinator, assignment: "orders-0")
        let description = await fixture.coordinator.describeGroup("g")
        #expect(description.error == .none)
        #expect(description.state == .stable)
        #expect(description.protocolType == "consumer")
        #expect(description.protocolName == "range")
        #expect(description.members.map(\.memberId) == [memberId])
        #expect(description.members.first?.clientHost == "/127.0.0.1")
        #expect(description.members.first?.assignment == ByteBuffer(string: "orders-0"))
        #expect(description.members.first?.metadata == ByteBuffer(string: "range:sub"))
        let missing = await fixture.coordinator.describeGroup("missing")
        #expect(missing.state == .dead && missing.error == .none && missing.members.isEmpty)
    }

    @Test func groupsAreListedWithStateFilters() async throws {
        let fixture = try await GroupFixture.make()
        _ = await stableSingleMemberGroup(fixture.coordinator, "active")
        _ = await fixture.coordinator.commitOffsets(groupId: "idle", generationId: -1, memberId: "", groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: TopicPartition(topic: "t", partition: 0), offset: 1)])
        let all = await fixture.coordinator.listGroups()
        #expect(all.error == .none)
        #expect(all.groups.map(\.groupId) == ["active", "idle"])
        #expect(all.groups.map(\.state) == [.stable, .empty])
        #expect(await fixture.coordinator.listGroups(states: ["STABLE"]).groups.map(\.groupId) == ["active"])
        #expect(await fixture.coordinator.listGroups(states: ["Empty"]).groups.map(\.groupId) == ["idle"])
        #expect(await fixture.coordinator.listGroups(states: ["Dead"]).groups.isEmpty)
    }

    @Test func offsetDeleteRefusesSubscribedTopicsAndDeletesOthers() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let subscription = try Self.subscription(["orders"])
        let memberId = await obtainMemberId(coordinator, joinParameters(protocols: [GroupProtocol(name: "range", metadata: subscription)]))
        let joined = await coordinator.joinGroup(joinParameters(memberId: memberId, protocols: [GroupProtocol(name: "range", metadata: subscription)]))
        _ = await coordinator.syncGroup(groupId: "g", generationId: joined.generationId, memberId: memberId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        let orders = TopicPartition(topic: "orders", partition: 0)
        let payments = TopicPartition(topic: "payments", partition: 0)
        _ = await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: orders, offset: 1),
                                                      OffsetCommitEntry(partition: payments, offset: 2)])
        let result = await coordinator.deleteOffsets(groupId: "g", partitions: [orders, payments])
        #expect(result.error == .none)
        #expect(result.partitions == [.groupSubscribedToTopic, .none])
        let left = await coordinator.fetchOffsets(groupId: "g", partitions: [orders, payments])
        #expect(left.partitions.map { $0.offset?.offset } == [1, nil])
        #expect(await coordinator.deleteOffsets(groupId: "missing", partitions: [orders]).error == .groupIdNotFound)
        // Once the group is empty, every offset may go.
        _ = await coordinator.leaveGroup(groupId: "g", members: [LeavingMember(memberId: memberId)])
        #expect(await coordinator.deleteOffsets(groupId: "g", partitions: [orders]).partitions == [.none])
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [orders]).partitions.first?.offset == nil)
    }

    @Test func theSubscribedTopicsOfAStableConsumerGroupKeepTheirOffsetsFromExpiring() async throws {
        let fixture = try await GroupFixture.make { $0.offsetsRetentionMinutes = 1; $0.offsetsRetentionCheckIntervalMs = 1 }
        let coordinator = fixture.coordinator
        let subscription = try Self.subscription(["orders"])
        let offered = [GroupProtocol(name: "range", metadata: subscription)]
        let memberId = await obtainMemberId(coordinator, joinParameters(session: 60_000, protocols: offered))
        let joined = await coordinator.joinGroup(joinParameters(memberId: memberId, session: 60_000, protocols: offered))
        _ = await coordinator.syncGroup(groupId: "g", generationId: joined.generationId, memberId: memberId, groupInstanceId: nil,
                                        protocolType: nil, protocolName: nil, assignments: [:])
        let orders = TopicPartition(topic: "orders", partition: 0)
        let payments = TopicPartition(topic: "payments", partition: 0)
        _ = await coordinator.commitOffsets(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil,
                                            offsets: [OffsetCommitEntry(partition: orders, offset: 1),
                                                      OffsetCommitEntry(partition: payments, offset: 2)])
        fixture.clock.advance(by: 59_000)
        _ = await coordinator.heartbeat(groupId: "g", generationId: 1, memberId: memberId, groupInstanceId: nil)
        fixture.clock.advance(by: 1_000)
        await coordinator.runTimers()
        let left = await coordinator.fetchOffsets(groupId: "g", partitions: [orders, payments])
        #expect(left.partitions.map { $0.offset?.offset } == [1, nil])
        #expect(await coordinator.state(of: "g") == .stable)
    }
}
