// The range assignor and the consumer protocol's subscription/assignment encodings.
import KafkaProtocol
import NIOCore
import RunnelClient
import Testing

@Suite struct RangeAssignorTests {
    @Test func splitsPartitionsIntoConsecutiveRangesWithExtrasFirst() {
        let result = RangeAssignor.assign(subscriptions: ["m1": ["t"], "m2": ["t"], "m3": ["t"]],
                                          partitionCounts: ["t": 7])
        #expect(result["m1"]?["t"] == [0, 1, 2])
        #expect(result["m2"]?["t"] == [3, 4])
        #expect(result["m3"]?["t"] == [5, 6])
    }

    @Test func onlySubscribedMembersGetATopicAndSpareMembersGetNothing() {
        let result = RangeAssignor.assign(subscriptions: ["a": ["x", "y"], "b": ["y"], "c": ["y"]],
                                          partitionCounts: ["x": 2, "y": 2])
        #expect(result["a"]?["x"] == [0, 1])
        #expect(result["a"]?["y"] == [0])
        #expect(result["b"]?["y"] == [1])
        #expect(result["c"]?["y"] == nil)
        #expect(result["c"] != nil)
    }

    @Test func everyPartitionIsAssignedExactlyOnce() {
        let members = (0..<5).map { "member-\($0)" }
        let result = RangeAssignor.assign(subscriptions: Dictionary(uniqueKeysWithValues: members.map { ($0, ["t"]) }),
                                          partitionCounts: ["t": 23])
        let all = result.values.flatMap { $0["t"] ?? [] }.sorted()
        #expect(all == Array(0..<23))
    }
}

@Suite struct ConsumerProtocolTests {
    @Test func subscriptionRoundTrips() {
        let bytes = ConsumerProtocol.encodeSubscription(topics: ["orders", "payments"])
        #expect(ConsumerProtocol.decodeSubscriptionTopics(bytes) == ["orders", "payments"])
    }

    @Test func assignmentRoundTrips() {
        let bytes = ConsumerProtocol.encodeAssignment(["b": [1, 0], "a": [2]])
        #expect(ConsumerProtocol.decodeAssignment(bytes) == [
            TopicPartition(topic: "a", partition: 2), TopicPartition(topic: "b", partition: 0),
            TopicPartition(topic: "b", partition: 1),
        ])
    }

    @Test func emptyAssignmentMeansNoPartitions() {
        #expect(ConsumerProtocol.decodeAssignment(ByteBuffer()) == [])
    }

    @Test func truncatedAssignmentIsRejectedNotTrusted() {
        var bytes = ConsumerProtocol.encodeAssignment(["topic": [0, 1, 2]])
        bytes.moveWriterIndex(to: bytes.writerIndex - 10)
        #expect(ConsumerProtocol.decodeAssignment(bytes) == nil)
        var huge = ByteBuffer()
        huge.writeInteger(Int16(0))
        huge.writeInteger(Int32.max)
        #expect(ConsumerProtocol.decodeAssignment(huge) == nil)
    }
}

@Suite struct BrokerAddressTests {
    @Test func parsesHostPortForms() throws {
        #expect(try BrokerAddress(parsing: "localhost:9092") == BrokerAddress(host: "localhost", port: 9092))
        #expect(try BrokerAddress(parsing: "PLAINTEXT://10.0.0.1:19092") == BrokerAddress(host: "10.0.0.1", port: 19092))
        #expect(try BrokerAddress(parsing: "[::1]:9093") == BrokerAddress(host: "::1", port: 9093))
        #expect(try BrokerAddress(parsing: "kafka") == BrokerAddress(host: "kafka", port: 9092))
        #expect(try BrokerAddress.parseList("a:1, b:2").count == 2)
    }

    @Test(arguments: ["", "host:", "host:0", "host:70000", ":9092", "host:abc"])
    func rejectsBadAddresses(input: String) {
        #expect(throws: KafkaClientError.self) { try BrokerAddress(parsing: input) }
    }
}
