// Tests of the request layer: every group API answers in every version the broker advertises with a
// response that encodes (and decodes back) in that version, carrying the coordinator's answer.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

/// Encodes `message` in `version` and decodes it back, so a response that cannot be sent fails the test.
func roundTrip<Message: KafkaMessage>(_ message: Message, version: Int16) throws -> Message {
    var buffer = ByteBuffer()
    try message.encode(to: &buffer, version: version)
    let decoded = try Message(from: &buffer, version: version)
    #expect(buffer.readableBytes == 0)
    return decoded
}

@Suite struct GroupRequestsTests {
    /// Joins (both steps when needed), syncs with an assignment; returns member id and generation.
    private func joinAndSync(_ requests: GroupRequests, joinVersion: Int16 = 9, syncVersion: Int16 = 5,
                             groupId: String = "g") async throws -> (memberId: String, generation: Int32) {
        var join = JoinGroupRequest()
        join.groupId = groupId
        join.sessionTimeoutMs = 1000
        join.rebalanceTimeoutMs = 1000
        join.protocolType = "consumer"
        var offered = JoinGroupRequest.JoinGroupRequestProtocol()
        offered.name = "range"
        offered.metadata = ByteBuffer(string: "sub")
        join.protocols = [offered]
        var joined = try roundTrip(await requests.joinGroup(join, version: joinVersion, clientId: "c", clientHost: "/h"),
                                   version: joinVersion)
        if joined.errorCode == ErrorCode.memberIdRequired.rawValue {
            join.memberId = joined.memberId
            joined = try roundTrip(await requests.joinGroup(join, version: joinVersion, clientId: "c", clientHost: "/h"),
                                   version: joinVersion)
        }
        #expect(joined.errorCode == 0)
        #expect(joined.protocolName == "range")
        #expect(joined.members.map(\.memberId) == [joined.memberId])
        var sync = SyncGroupRequest()
        sync.groupId = groupId
        sync.generationId = joined.generationId
        sync.memberId = joined.memberId
        var assignment = SyncGroupRequest.SyncGroupRequestAssignment()
        assignment.memberId = joined.memberId
        assignment.assignment = ByteBuffer(string: "asg")
        sync.assignments = [assignment]
        let synced = try roundTrip(await requests.syncGroup(sync, version: syncVersion), version: syncVersion)
        #expect(synced.errorCode == 0)
        #expect(synced.assignment == ByteBuffer(string: "asg"))
        return (joined.memberId, joined.generationId)
    }

    @Test(arguments: Int16(0)...6)
    func findCoordinatorAnswersThisNodeForGroupsInEveryVersion(version: Int16) throws {
        var request = FindCoordinatorRequest()
        if version >= 4 { request.coordinatorKeys = ["a", "b"] } else { request.key = "a" }
        let response = try roundTrip(GroupFixtureFree.requests.findCoordinator(request, version: version), version: version)
        if version >= 4 {
            #expect(response.coordinators.map(\.key) == ["a", "b"])
            #expect(response.coordinators.allSatisfy { $0.nodeId == 1 && $0.port == 9092 && $0.errorCode == 0 })
        } else {
            #expect(response.errorCode == 0 && response.nodeId == 1 && response.host == "localhost")
        }
        var share = request
        share.keyType = 2
        if version >= 1 {
            let refused = try roundTrip(GroupFixtureFree.requests.findCoordinator(share, version: version), version: version)
            let code = version >= 4 ? refused.coordinators.first?.errorCode : refused.errorCode
            #expect(code == ErrorCode.invalidRequest.rawValue)
        }
    }

    @Test(arguments: Int16(0)...9)
    func joinGroupWorksInEveryVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let member = try await joinAndSync(fixture.requests, joinVersion: version, syncVersion: min(version, 5))
        #expect(member.generation == 1)
        var bad = JoinGroupRequest()
        bad.groupId = "g"
        bad.memberId = "ghost"
        bad.sessionTimeoutMs = 1000
        bad.protocolType = "consumer"
        var offered = JoinGroupRequest.JoinGroupRequestProtocol()
        offered.name = "range"
        bad.protocols = [offered]
        let refused = try roundTrip(await fixture.requests.joinGroup(bad, version: version, clientId: "", clientHost: ""),
                                    version: version)
        #expect(refused.errorCode == ErrorCode.unknownMemberId.rawValue)
    }

    @Test(arguments: Int16(0)...5)
    func syncHeartbeatAndLeaveWorkInEveryVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let member = try await joinAndSync(fixture.requests, syncVersion: version)
        var heartbeat = HeartbeatRequest()
        heartbeat.groupId = "g"
        heartbeat.generationId = member.generation
        heartbeat.memberId = member.memberId
        let beat = try roundTrip(await fixture.requests.heartbeat(heartbeat, version: min(version, 4)), version: min(version, 4))
        #expect(beat.errorCode == 0)
        var leave = LeaveGroupRequest()
        leave.groupId = "g"
        if version >= 3 {
            var identity = LeaveGroupRequest.MemberIdentity()
            identity.memberId = member.memberId
            var ghost = LeaveGroupRequest.MemberIdentity()
            ghost.memberId = "ghost"
            leave.members = [identity, ghost]
        } else {
            leave.memberId = member.memberId
        }
        let left = try roundTrip(await fixture.requests.leaveGroup(leave, version: version), version: version)
        #expect(left.errorCode == 0)
        if version >= 3 {
            #expect(left.members.map(\.errorCode) == [0, ErrorCode.unknownMemberId.rawValue])
        }
        #expect(await fixture.coordinator.state(of: "g") == .empty)
    }

    @Test(arguments: Int16(2)...10)
    func offsetCommitAndFetchWorkInEveryCommitVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let member = try await joinAndSync(fixture.requests)
        var commit = OffsetCommitRequest()
        commit.groupId = "g"
        commit.generationIdOrMemberEpoch = member.generation
        commit.memberId = member.memberId
        var topic = OffsetCommitRequest.OffsetCommitRequestTopic()
        if version >= 10 { topic.topicId = FixedTopicCatalog.ordersId } else { topic.name = "orders" }
        topic.partitions = [Int32(0), 1, 7].map { index in
            var partition = OffsetCommitRequest.OffsetCommitRequestPartition()
            partition.partitionIndex = index
            partition.committedOffset = 10 + Int64(index)
            partition.committedMetadata = "meta"
            return partition
        }
        var unknownTopic = OffsetCommitRequest.OffsetCommitRequestTopic()
        if version >= 10 { unknownTopic.topicId = KafkaUUID(mostSignificantBits: 9, leastSignificantBits: 9) } else { unknownTopic.name = "nope" }
        unknownTopic.partitions = [OffsetCommitRequest.OffsetCommitRequestPartition()]
        commit.topics = [topic, unknownTopic]
        let committed = try roundTrip(await fixture.requests.offsetCommit(commit, version: version), version: version)
        #expect(committed.topics[0].partitions.map(\.errorCode) == [0, 0, ErrorCode.unknownTopicOrPartition.rawValue])
        let unknownCode = version >= 10 ? ErrorCode.unknownTopicId : ErrorCode.unknownTopicOrPartition
        #expect(committed.topics[1].partitions.map(\.errorCode) == [unknownCode.rawValue])

        let fetchVersion = min(version, 10)
        var fetch = OffsetFetchRequest()
        if fetchVersion >= 8 {
            var group = OffsetFetchRequest.OffsetFetchRequestGroup()
            group.groupId = "g"
            var wanted = OffsetFetchRequest.OffsetFetchRequestTopics()
            if fetchVersion >= 10 { wanted.topicId = FixedTopicCatalog.ordersId } else { wanted.name = "orders" }
            wanted.partitionIndexes = [0, 1, 2]
            group.topics = [wanted]
            fetch.groups = [group]
            let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: fetchVersion), version: fetchVersion)
            #expect(fetched.groups.first?.topics.first?.partitions.map(\.committedOffset) == [10, 11, -1])
        } else {
            fetch.groupId = "g"
            var wanted = OffsetFetchRequest.OffsetFetchRequestTopic()
            wanted.name = "orders"
            wanted.partitionIndexes = [0, 1, 2]
            fetch.topics = [wanted]
            let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: fetchVersion), version: fetchVersion)
            #expect(fetched.topics.first?.partitions.map(\.committedOffset) == [10, 11, -1])
            #expect(fetched.topics.first?.partitions.first?.metadata == "meta")
        }
    }

    @Test(arguments: Int16(1)...10)
    func offsetFetchWorksInEveryVersionIncludingAllOffsetsAndSeveralGroups(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let orders = TopicPartition(topic: "orders", partition: 2)
        for groupId in ["g1", "g2"] {
            _ = await fixture.coordinator.commitOffsets(groupId: groupId, generationId: -1, memberId: "", groupInstanceId: nil,
                                                        offsets: [OffsetCommitEntry(partition: orders, offset: 33, leaderEpoch: 4)])
        }
        var fetch = OffsetFetchRequest()
        if version >= 8 {
            fetch.groups = ["g1", "g2", "none"].map { groupId in
                var group = OffsetFetchRequest.OffsetFetchRequestGroup()
                group.groupId = groupId
                group.topics = nil
                return group
            }
            let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: version), version: version)
            #expect(fetched.groups.map(\.groupId) == ["g1", "g2", "none"])
            #expect(fetched.groups[0].topics.first?.partitions.first?.committedOffset == 33)
            #expect(fetched.groups[0].topics.first?.partitions.first?.committedLeaderEpoch == 4)
            #expect(fetched.groups[2].topics.isEmpty)
            if version >= 10 { #expect(fetched.groups[1].topics.first?.topicId == FixedTopicCatalog.ordersId) }
        } else {
            fetch.groupId = "g1"
            if version >= 2 {
                fetch.topics = nil
            } else {
                var wanted = OffsetFetchRequest.OffsetFetchRequestTopic()
                wanted.name = "orders"
                wanted.partitionIndexes = [2]
                fetch.topics = [wanted]
            }
            let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: version), version: version)
            #expect(fetched.topics.first?.partitions.first?.committedOffset == 33)
            #expect(fetched.topics.first?.partitions.first?.committedLeaderEpoch == (version >= 5 ? 4 : -1))
        }
    }

    @Test(arguments: Int16(0)...6)
    func describeGroupsWorksInEveryVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let member = try await joinAndSync(fixture.requests)
        var request = DescribeGroupsRequest()
        request.groups = ["g", "missing"]
        let response = try roundTrip(await fixture.requests.describeGroups(request, version: version), version: version)
        #expect(response.groups[0].groupState == "Stable")
        #expect(response.groups[0].protocolData == "range")
        #expect(response.groups[0].members.map(\.memberId) == [member.memberId])
        #expect(response.groups[0].members.first?.memberAssignment == ByteBuffer(string: "asg"))
        #expect(response.groups[1].groupState == "Dead")
        #expect(response.groups[1].errorCode == (version >= 6 ? ErrorCode.groupIdNotFound.rawValue : 0))
    }

    @Test(arguments: Int16(0)...5)
    func listGroupsWorksInEveryVersionWithFilters(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        _ = try await joinAndSync(fixture.requests)
        var request = ListGroupsRequest()
        let all = try roundTrip(await fixture.requests.listGroups(request, version: version), version: version)
        #expect(all.groups.map(\.groupId) == ["g"])
        #expect(all.groups.first?.protocolType == "consumer")
        if version >= 4 {
            #expect(all.groups.first?.groupState == "Stable")
            request.statesFilter = ["Empty"]
            #expect(try roundTrip(await fixture.requests.listGroups(request, version: version), version: version).groups.isEmpty)
        }
        if version >= 5 {
            request.statesFilter = []
            request.typesFilter = ["consumer"]
            #expect(try roundTrip(await fixture.requests.listGroups(request, version: version), version: version).groups.isEmpty)
            request.typesFilter = ["Classic"]
            let classic = try roundTrip(await fixture.requests.listGroups(request, version: version), version: version)
            #expect(classic.groups.first?.groupType == "classic")
        }
    }

    @Test(arguments: Int16(0)...2)
    func deleteGroupsWorksInEveryVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        _ = try await joinAndSync(fixture.requests, groupId: "busy")
        _ = await fixture.coordinator.commitOffsets(groupId: "idle", generationId: -1, memberId: "", groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: TopicPartition(topic: "orders", partition: 0), offset: 1)])
        var request = DeleteGroupsRequest()
        request.groupsNames = ["idle", "busy", "ghost"]
        let response = try roundTrip(await fixture.requests.deleteGroups(request, version: version), version: version)
        #expect(response.results.map(\.errorCode) == [0, ErrorCode.nonEmptyGroup.rawValue, ErrorCode.groupIdNotFound.rawValue])
    }

    @Test func offsetDeleteAnswersPerPartition() async throws {
        let fixture = try await GroupFixture.make()
        _ = await fixture.coordinator.commitOffsets(groupId: "idle", generationId: -1, memberId: "", groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: TopicPartition(topic: "orders", partition: 0), offset: 1)])
        var request = OffsetDeleteRequest()
        request.groupId = "idle"
        var topic = OffsetDeleteRequest.OffsetDeleteRequestTopic()
        topic.name = "orders"
        topic.partitions = [Int32(0), 9].map { index in
            var partition = OffsetDeleteRequest.OffsetDeleteRequestPartition()
            partition.partitionIndex = index
            return partition
        }
        request.topics = [topic]
        let response = try roundTrip(await fixture.requests.offsetDelete(request, version: 0), version: 0)
        #expect(response.errorCode == 0)
        #expect(response.topics.first?.partitions.map(\.errorCode) == [0, ErrorCode.unknownTopicOrPartition.rawValue])
        request.groupId = "ghost"
        let missing = try roundTrip(await fixture.requests.offsetDelete(request, version: 0), version: 0)
        #expect(missing.errorCode == ErrorCode.groupIdNotFound.rawValue)
    }
}

/// Request-layer access that needs no coordinator state (FindCoordinator).
enum GroupFixtureFree {
    static let requests = GroupRequests(
        coordinator: GroupCoordinator(config: .kafkaDefaults, store: InMemoryGroupLogStore()), catalog: FixedTopicCatalog()
    ) { keyType, _ in keyType <= 1 ? CoordinatorNode(nodeId: 1, host: "localhost", port: 9092) : nil }
}
