// Tests of the __consumer_offsets record formats and of the group placement function.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelGroups

@Suite struct GroupRecordCodecTests {
    @Test func anOffsetCommitKeyIsVersionOneThenTopicPartition() throws {
        let key = try GroupRecordCodec.offsetCommitKey(group: "g", topic: "t", partition: 2)
        // int16 version 1, int16 length 1 "g", int16 length 1 "t", int32 partition 2.
        #expect(Array(key.readableBytesView) == [0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 2])
    }

    @Test func aGroupMetadataKeyIsVersionTwoThenTheGroup() throws {
        let key = try GroupRecordCodec.groupMetadataKey(group: "ab")
        #expect(Array(key.readableBytesView) == [0, 2, 0, 2, 0x61, 0x62])
    }

    @Test func anOffsetCommitValueIsVersionThreeUnlessItCarriesAnExpireTimestamp() throws {
        var value = OffsetCommitValue()
        value.offset = 10
        value.leaderEpoch = 4
        value.metadata = "meta"
        value.commitTimestamp = 1234
        let plain = try GroupRecordCodec.offsetCommitValue(value)
        #expect(plain.getInteger(at: plain.readerIndex, as: Int16.self) == 3)
        // v3: version, offset int64, leader epoch int32, metadata string, commit timestamp int64.
        #expect(plain.readableBytes == 2 + 8 + 4 + (2 + 4) + 8)
        value.expireTimestamp = 5000
        let expiring = try GroupRecordCodec.offsetCommitValue(value)
        #expect(expiring.getInteger(at: expiring.readerIndex, as: Int16.self) == 1)
        guard case .offsetCommit(_, let decoded?) = try GroupRecordCodec.decode(
            GroupLogRecord(key: try GroupRecordCodec.offsetCommitKey(group: "g", topic: "t", partition: 0), value: expiring))
        else {
            Issue.record("not an offset commit")
            return
        }
        #expect(decoded.expireTimestamp == 5000)
        #expect(decoded.offset == 10)
    }

    @Test func recordsRoundTripAndTombstonesDecodeAsNilValues() throws {
        var group = GroupMetadataValue()
        group.protocolType = "consumer"
        group.generation = 7
        group.protocol = "range"
        group.leader = "m1"
        group.currentStateTimestamp = 99
        var member = GroupMetadataValue.MemberMetadata()
        member.memberId = "m1"
        member.groupInstanceId = "instance-1"
        member.clientId = "c"
        member.clientHost = "/10.0.0.1"
        member.rebalanceTimeout = 300
        member.sessionTimeout = 100
        member.subscription = ByteBuffer(bytes: [1, 2])
        member.assignment = ByteBuffer(bytes: [3])
        group.members = [member]
        let key = try GroupRecordCodec.groupMetadataKey(group: "g")
        let record = GroupLogRecord(key: key, value: try GroupRecordCodec.groupMetadataValue(group))
        #expect(try GroupRecordCodec.decode(record) == .groupMetadata(try #require(decodeKey(key)), group))
        #expect(try GroupRecordCodec.decode(GroupLogRecord(key: key, value: nil))
                == .groupMetadata(try #require(decodeKey(key)), nil))
    }

    private func decodeKey(_ key: ByteBuffer) -> GroupMetadataKey? {
        var body = key
        body.moveReaderIndex(forwardBy: 2)
        return try? GroupMetadataKey(from: &body, version: 2)
    }

    @Test func malformedRecordsAreErrorsAndNewerRecordTypesAreSkipped() throws {
        #expect(throws: GroupRecordError.self) {
            try GroupRecordCodec.decode(GroupLogRecord(key: ByteBuffer(bytes: [0]), value: nil))
        }
        #expect(throws: GroupRecordError.self) {
            try GroupRecordCodec.decode(GroupLogRecord(key: ByteBuffer(bytes: [0, 1, 0, 9, 0x61]), value: nil))
        }
        let valueWithBadVersion = GroupLogRecord(
            key: try GroupRecordCodec.offsetCommitKey(group: "g", topic: "t", partition: 0),
            value: ByteBuffer(bytes: [0, 9, 0, 0]))
        #expect(throws: GroupRecordError.self) { try GroupRecordCodec.decode(valueWithBadVersion) }
        #expect(try GroupRecordCodec.decode(GroupLogRecord(key: ByteBuffer(bytes: [0, 5, 1, 2]), value: nil))
                == .other(keyVersion: 5))
    }

    @Test(arguments: [
        ("my-group", Int32(-1_906_497_762), Int32(12)),
        ("console-consumer-12345", 158_455_506, 6),
        // Its hash is Int.MIN_VALUE, which Kafka's Utils.abs maps to 0.
        ("polygenelubricants", Int32.min, 0),
        ("ümlaut-gruppe", 1_207_243_459, 9),
        ("😀group", -1_231_696_132, 32),
    ])
    func groupsArePlacedOnTheSamePartitionAsKafka(groupId: String, javaHash: Int32, partition: Int32) {
        #expect(GroupPartitioner.javaStringHashCode(groupId) == javaHash)
        #expect(GroupPartitioner.partition(for: groupId, partitionCount: 50) == partition)
    }
}

@Suite struct GroupLogBatchesTests {
    @Test func recordsSurviveABatchRoundTripIncludingTombstones() throws {
        let records = [
            GroupLogRecord(key: try GroupRecordCodec.groupMetadataKey(group: "g"), value: ByteBuffer(bytes: [0, 3, 1])),
            GroupLogRecord(key: try GroupRecordCodec.offsetCommitKey(group: "g", topic: "t", partition: 1), value: nil),
        ]
        var bytes = try GroupLogBatches.batch(records, timestampMs: 1000)
        bytes.writeImmutableBuffer(try GroupLogBatches.batch([records[0]], timestampMs: 2000))
        #expect(GroupLogBatches.records(from: bytes) == records + [records[0]])
        // A truncated trailing batch is dropped, the complete one before it is kept.
        let torn = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 3) ?? ByteBuffer()
        #expect(GroupLogBatches.records(from: torn) == records)
    }
}
