// Stale alias ids and holds (docs/decisions/0016): a client that learned a topic id only through an alias
// that no longer resolves to it is told UNKNOWN_TOPIC_ID; one that also asked for the topic by name is
// not; a hold set before a swap survives the client's SyncGroups until the fence makes it releasable; after
// a fresh assignment a partition is released when its committed offset is read, and a fetch of one not
// read reports the members as keeping positions from before the move.
import Foundation
import KafkaProtocol
import Logging
import Testing
@testable import RunnelBroker

@Suite struct AliasTopicIdsTests {
    final class Harness: OfflineBroker {
        init() throws { try super.init(prefix: "runnel-alias-ids-") }

        var core: BrokerCore { broker.core }

        func topicId(_ name: String) -> KafkaUUID? { core.metadataStore.image.topics[name]?.metadata.topicId }

        func point(_ alias: String, to target: String) async {
            let outcome = await core.applyAliasChange(.point(alias, to: target, expectedTarget: nil), validateOnly: false,
                                                      logger: Logger(label: "test"))
            #expect(outcome.code == .none)
        }
    }

    @Test func anIdLearnedOnlyThroughASwappedAliasIsStale() async throws {
        let harness = try Harness()
        for name in ["v1", "v2"] {
            _ = try await harness.core.createTopic(name: name, partitions: 1, replicationFactor: 1, configs: [:],
                                                   logger: Logger(label: "test"))
        }
        await harness.point("serving", to: "v1")
        let ids = harness.core.clientTopicIds
        let client = harness.request(3, version: 12)
        let v1 = try #require(harness.topicId("v1"))
        let v2 = try #require(harness.topicId("v2"))
        ids.noteAnswers(names: ["serving"], image: harness.core.metadataStore.image, client)
        #expect(ids.isActive)
        #expect(ids.staleAliasIds([v1], image: harness.core.metadataStore.image, client).isEmpty)
        await harness.point("serving", to: "v2")
        let image = harness.core.metadataStore.image
        #expect(ids.staleAliasIds([v1, v2], image: image, client) == [v1])
        // Asking for v1 by its own name makes it the client's own topic again.
        ids.noteAnswers(names: ["v1"], image: image, client)
        #expect(ids.staleAliasIds([v1], image: image, client).isEmpty)
    }

    /// Member "m1" of a group moved by a fence, on the test client of `request`.
    private func movedMember(_ request: HandlerRequest) -> MovedMember {
        MovedMember(key: ClientTopicIds.key(clientId: "test", host: request.clientHost), memberId: "m1")
    }

    @Test func aHoldBeforeTheFenceSurvivesSyncGroupsUntilTheFence() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let member = movedMember(client)
        let other = KafkaUUID.random()
        let held = KafkaUUID.random()
        let p0 = HeldPartition(topicId: held, partition: 0)
        ids.hold([held], for: [member], group: "g", forMs: 60_000, releasable: false)
        #expect(ids.heldPartitions([p0, HeldPartition(topicId: other, partition: 0)], client).held == [p0])
        ids.expectFreshPositions(client)  // a SyncGroup of the old generation, before the fence: the hold stays
        ids.noteCommittedOffsetsRead([p0], group: "g", client)
        #expect(ids.heldPartitions([p0], client) == ([p0], nil))
        ids.hold([held], for: [member], group: "g", forMs: 60_000, releasable: true)
        ids.expectFreshPositions(client)  // the first SyncGroup that assigns the moved partitions afresh
        ids.noteCommittedOffsetsRead([p0], group: "g", client)  // the client reads p0's committed offset: p0 is its own again
        #expect(ids.heldPartitions([p0], client) == ([], nil))
    }

    @Test func aFetchOfAMovedPartitionWhoseOffsetWasNotReadShowsAKeptPosition() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let held = KafkaUUID.random()
        let p0 = HeldPartition(topicId: held, partition: 0)
        let p1 = HeldPartition(topicId: held, partition: 1)
        ids.hold([held], for: [movedMember(client)], group: "g", forMs: 60_000, releasable: true)
        // Before the fresh assignment a fetch is only held (the member is still to be assigned afresh).
        #expect(ids.heldPartitions([p1], client) == ([p1], nil))
        ids.expectFreshPositions(client)
        ids.noteCommittedOffsetsRead([p0], group: "g", client)
        ids.noteCommittedOffsetsRead([p1], group: "another", client)  // another group's offsets: p1 stays held
        let (held1, stale) = ids.heldPartitions([p0, p1], client)
        #expect(held1 == [p1])
        #expect(stale?.group == "g" && stale?.memberIds == ["m1"] && stale?.topicIds == [held])
        // Once reported, the hold waits for the next fresh assignment: no second report before it.
        #expect(ids.heldPartitions([p1], client) == ([p1], nil))
        ids.extendHold(client, forMs: 60_000)  // the assignment that leaves them out once more
        ids.expectFreshPositions(client)        // and the one that gives them back
        ids.noteCommittedOffsetsRead(nil, group: "g", client)  // all topics' offsets read: the hold ends
        #expect(ids.heldPartitions([p1], client) == ([], nil))
        #expect(!ids.hasHolds)
    }

    @Test func aClientThatNeverReadsItsOffsetsIsReportedAFewTimesThenLeftToItsPositions() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let held = KafkaUUID.random()
        let p0 = HeldPartition(topicId: held, partition: 0)
        ids.hold([held], for: [movedMember(client)], group: "g", forMs: 60_000, releasable: true)
        for _ in 0..<ClientTopicIds.maxStaleReports {  // e.g. it seeks on assignment instead of reading offsets
            ids.expectFreshPositions(client)
            #expect(ids.heldPartitions([p0], client).stale != nil)
            ids.extendHold(client, forMs: 60_000)
        }
        ids.expectFreshPositions(client)
        #expect(ids.heldPartitions([p0], client) == ([], nil))
        #expect(!ids.hasHolds)
    }

    @Test func aHoldEndsAtItsTimeout() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let held = KafkaUUID.random()
        ids.hold([held], for: [movedMember(client)], group: "g", forMs: 1, releasable: false)
        try await Task.sleep(for: .milliseconds(20))  // past the 1 ms hold (a bound, not a synchronisation)
        #expect(ids.heldPartitions([HeldPartition(topicId: held, partition: 0)], client).held.isEmpty)
    }
}
