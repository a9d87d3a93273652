// Stale alias ids and holds (docs/decisions/0016): a client that learned a topic id only through an alias
// that no longer resolves to it is told UNKNOWN_TOPIC_ID; one that also asked for the topic by name is
// not; a hold set before a swap survives the client's SyncGroups until the fence makes it releasable.
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

    @Test func aHoldBeforeTheFenceSurvivesSyncGroupsUntilTheFence() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let other = KafkaUUID.random()
        let held = KafkaUUID.random()
        ids.hold([held], for: [ClientTopicIds.key(clientId: "test", host: client.clientHost)], forMs: 60_000, releasable: false)
        #expect(ids.heldIds([held, other], client) == [held])
        ids.release(client)  // a SyncGroup of the old generation, before the fence: the hold stays
        #expect(ids.heldIds([held], client) == [held])
        ids.hold([held], for: [ClientTopicIds.key(clientId: "test", host: client.clientHost)], forMs: 60_000, releasable: true)
        ids.release(client)  // the first SyncGroup after the fence
        #expect(ids.heldIds([held], client).isEmpty)
    }

    @Test func aHoldEndsAtItsTimeout() async throws {
        let harness = try Harness()
        let ids = harness.core.clientTopicIds
        let client = harness.request(1, version: 12)
        let held = KafkaUUID.random()
        ids.hold([held], for: [ClientTopicIds.key(clientId: "test", host: client.clientHost)], forMs: 1, releasable: false)
        try await Task.sleep(for: .milliseconds(20))  // past the 1 ms hold (a bound, not a synchronisation)
        #expect(ids.heldIds([held], client).isEmpty)
    }
}
