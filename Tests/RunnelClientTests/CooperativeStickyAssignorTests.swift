// The cooperative-sticky assignor: balance, stickiness, the revoke-first rule for moving partitions,
// and the v2 subscription encoding that carries owned partitions and the generation.
import KafkaProtocol
import NIOCore
import RunnelClient
import Testing

@Suite struct CooperativeStickyAssignorTests {
    private func tp(_ topic: String, _ partition: Int32) -> TopicPartition {
        TopicPartition(topic: topic, partition: partition)
    }

    private func owned(_ result: [String: [String: [Int32]]], _ member: String) -> Set<TopicPartition> {
        Set((result[member] ?? [:]).flatMap { topic, partitions in partitions.map { tp(topic, $0) } })
    }

    @Test func freshGroupIsBalancedAndCoversEveryPartitionOnce() {
        let members = ["a", "b", "c"]
        let subscriptions = Dictionary(uniqueKeysWithValues: members.map { ($0, MemberSubscription(topics: ["t", "u"])) })
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 7, "u": 4])
        let counts = members.map { owned(result, $0).count }
        #expect(counts.max()! - counts.min()! <= 1)
        let all = members.flatMap { owned(result, $0) }
        #expect(all.count == 11)
        #expect(Set(all).count == 11)
    }

    @Test func aJoiningMemberGetsNothingOwnedByOthersInTheFirstRound() {
        // a owns all six; b joins. The target moves three to b, but a must revoke them first.
        let all = (0..<6).map { tp("t", Int32($0)) }
        let subscriptions = [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: all, generationId: 1),
            "b": MemberSubscription(topics: ["t"]),
        ]
        let first = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 6])
        #expect(owned(first, "a").count == 3)
        #expect(owned(first, "b").isEmpty)
        let revoked = Set(all).subtracting(owned(first, "a"))
        #expect(revoked.count == 3)

        // Follow-up rebalance: a owns its three, b still nothing; b now gets exactly the revoked ones.
        let second = CooperativeStickyAssignor.assign(subscriptions: [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: owned(first, "a").sorted(), generationId: 2),
            "b": MemberSubscription(topics: ["t"], generationId: 2),
        ], partitionCounts: ["t": 6])
        #expect(owned(second, "a") == owned(first, "a"))
        #expect(owned(second, "b") == revoked)
    }

    @Test func aLeavingMembersPartitionsGoToTheOthersWhoKeepTheirOwn() {
        let subscriptions = [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 0), tp("t", 1), tp("t", 2)], generationId: 4),
            "b": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 3), tp("t", 4), tp("t", 5)], generationId: 4),
        ]
        // c (which owned 6, 7, 8) left.
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 9])
        #expect(owned(result, "a").isSuperset(of: [tp("t", 0), tp("t", 1), tp("t", 2)]))
        #expect(owned(result, "b").isSuperset(of: [tp("t", 3), tp("t", 4), tp("t", 5)]))
        #expect(owned(result, "a").union(owned(result, "b")).count == 9)
        #expect(abs(owned(result, "a").count - owned(result, "b").count) <= 1)
    }

    @Test func balancedOwnershipIsKeptExactly() {
        let subscriptions = [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 1), tp("t", 3)], generationId: 2),
            "b": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 0), tp("t", 2)], generationId: 2),
        ]
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 4])
        #expect(owned(result, "a") == [tp("t", 1), tp("t", 3)])
        #expect(owned(result, "b") == [tp("t", 0), tp("t", 2)])
    }

    @Test func aClaimFromAnOlderGenerationLosesToTheNewerOwner() {
        let subscriptions = [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 0)], generationId: 3),
            "b": MemberSubscription(topics: ["t"], ownedPartitions: [tp("t", 0)], generationId: 5),
        ]
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 2])
        #expect(owned(result, "b").contains(tp("t", 0)))
        #expect(!owned(result, "a").contains(tp("t", 0)))
    }

    @Test func partitionsOfUnsubscribedOrShrunkTopicsAreNotKept() {
        let subscriptions = [
            "a": MemberSubscription(topics: ["t"], ownedPartitions: [tp("gone", 0), tp("t", 9)], generationId: 1),
        ]
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["t": 2])
        #expect(owned(result, "a") == [tp("t", 0), tp("t", 1)])
    }

    @Test func membersGetOnlyTopicsTheySubscribeTo() {
        let subscriptions = [
            "a": MemberSubscription(topics: ["x", "y"]),
            "b": MemberSubscription(topics: ["y"]),
        ]
        let result = CooperativeStickyAssignor.assign(subscriptions: subscriptions, partitionCounts: ["x": 3, "y": 3])
        #expect(owned(result, "b").allSatisfy { $0.topic == "y" })
        #expect(owned(result, "a").union(owned(result, "b")).count == 6)
        #expect(owned(result, "b").count == 3)
    }

    @Test func subscriptionWithOwnedPartitionsRoundTrips() throws {
        var userData = ByteBuffer()
        userData.writeInteger(Int32(7))
        let subscription = MemberSubscription(topics: ["t", "u"], userData: userData,
                                              ownedPartitions: [tp("t", 0), tp("t", 2), tp("u", 1)], generationId: 7)
        let decoded = try #require(ConsumerProtocol.decodeSubscription(ConsumerProtocol.encodeSubscription(subscription)))
        #expect(decoded == subscription)
        #expect(ConsumerProtocol.decodeSubscriptionTopics(ConsumerProtocol.encodeSubscription(subscription)) == ["t", "u"])
    }

    @Test func v1SubscriptionTakesTheGenerationFromUserData() throws {
        var bytes = ByteBuffer()
        bytes.writeInteger(Int16(1))
        bytes.writeInteger(Int32(1))
        bytes.writeInteger(Int16(1))
        bytes.writeString("t")
        bytes.writeInteger(Int32(4))
        bytes.writeInteger(Int32(9))  // user data: generation 9
        bytes.writeInteger(Int32(1))
        bytes.writeInteger(Int16(1))
        bytes.writeString("t")
        bytes.writeInteger(Int32(1))
        bytes.writeInteger(Int32(3))
        let decoded = try #require(ConsumerProtocol.decodeSubscription(bytes))
        #expect(decoded.ownedPartitions == [tp("t", 3)])
        #expect(decoded.generationId == 9)
    }

    @Test func truncatedSubscriptionsAreRejectedNotTrusted() {
        var userData = ByteBuffer()
        userData.writeInteger(Int32(2))
        let full = ConsumerProtocol.encodeSubscription(MemberSubscription(
            topics: ["t"], userData: userData, ownedPartitions: [tp("t", 0), tp("t", 1)], generationId: 2))
        // Cuts inside the owned-partitions array must fail; a cut right after user data is a valid v1+ end.
        for length in [3, 8, full.readableBytes - 10, full.readableBytes - 6] {
            #expect(ConsumerProtocol.decodeSubscription(full.getSlice(at: 0, length: length)!) == nil,
                    "length \(length)")
        }
    }
}
