// Topic aliases: how a client's name resolves through the alias records of an image, and the rules
// every alias change obeys (names, targets, no chains, compare-and-swap on the record version).
import KafkaProtocol
import Testing
@testable import RunnelCluster

@Suite struct TopicAliasRulesTests {
    /// Topics v1, v2 and __consumer_offsets; alias serving -> v1 at version 7.
    static func image() -> MetadataImage {
        var image = MetadataImage(clusterId: "test")
        for name in ["v1", "v2", "__consumer_offsets"] {
            image.setTopic(TopicImage(metadata: TopicMetadata(name: name, topicId: .random(), partitionCount: 1,
                                                              replicationFactor: 1, configs: [:],
                                                              isInternal: name.hasPrefix("__")),
                                      partitions: []))
        }
        _ = image.setRecord(.alias, key: "serving",
                            to: ClusterRecord(kind: .alias, key: "serving", value: #"{"target":"v1"}"#, version: 7))
        return image
    }

    @Test func aClientNameResolvesToTheTopicOrTheAliasTarget() {
        let image = Self.image()
        #expect(image.topic(resolving: "serving")?.metadata.name == "v1")
        #expect(image.topic(resolving: "serving")?.metadata.topicId == image.topic(named: "v1")?.metadata.topicId)
        #expect(image.topic(resolving: "v2")?.metadata.name == "v2")
        #expect(image.topic(resolving: "nope") == nil)
        #expect(image.resolvedTopicName("serving") == "v1")
        #expect(image.resolvedTopicName("nope") == "nope")
        #expect(image.topic(named: "serving") == nil)  // the broker's own paths do not resolve
        #expect(image.aliases == [TopicAlias(name: "serving", target: "v1", version: 7)])
        #expect(image.aliases(targeting: "v1").map(\.name) == ["serving"])
    }

    @Test func createAndSwapAreConditionalWritesOnTheRecordVersion() throws {
        let image = Self.image()
        let create = try TopicAliasRules.write(for: .point("reports", to: "v2", expectedTarget: ""), in: image)
        #expect(create == .put(.alias, key: "reports", value: #"{"target":"v2"}"#, expectedVersion: 0))
        let swap = try TopicAliasRules.write(for: .point("serving", to: "v2", expectedTarget: "v1"), in: image)
        #expect(swap == .put(.alias, key: "serving", value: #"{"target":"v2"}"#, expectedVersion: 7))
        let upsert = try TopicAliasRules.write(for: .point("serving", to: "v2", expectedTarget: nil), in: image)
        #expect(upsert.expectedVersion == 7)
        let delete = try TopicAliasRules.write(for: .delete("serving", expectedTarget: "v1"), in: image)
        #expect(delete == .delete(.alias, key: "serving", expectedVersion: 7))
    }

    @Test(arguments: [
        (TopicAliasChange.point("serving", to: "v2", expectedTarget: "v2"),
         TopicAliasError.expectationFailed(alias: "serving", expected: "v2", current: "v1")),
        (.point("serving", to: "v2", expectedTarget: ""), .aliasExists("serving", target: "v1")),
        (.point("chain", to: "serving", expectedTarget: nil), .targetIsAlias(alias: "chain", target: "serving", itsTarget: "v1")),
        (.point("serving", to: "serving", expectedTarget: nil), .targetIsAlias(alias: "serving", target: "serving", itsTarget: "serving")),
        (.point("x", to: "missing", expectedTarget: nil), .unknownTarget(alias: "x", target: "missing")),
        (.point("v2", to: "v1", expectedTarget: nil), .nameIsTopic("v2")),
        (.point("x", to: "__consumer_offsets", expectedTarget: nil), .internalTarget(alias: "x", target: "__consumer_offsets")),
        (.delete("missing", expectedTarget: nil), .unknownAlias("missing")),
        (.delete("serving", expectedTarget: "v2"), .expectationFailed(alias: "serving", expected: "v2", current: "v1")),
    ])
    func badChangesAreRefusedWithTheirReason(change: TopicAliasChange, refusal: TopicAliasError) {
        #expect(throws: refusal) { try TopicAliasRules.write(for: change, in: Self.image()) }
    }

    @Test func badNamesAreRefused() {
        for name in ["", "bad name", "__internal", String(repeating: "a", count: 250)] {
            #expect {
                try TopicAliasRules.write(for: .point(name, to: "v1", expectedTarget: nil), in: Self.image())
            } throws: { error in
                if case .invalidName = error as? TopicAliasError { return true }
                return false
            }
        }
    }

    @Test func topicsCannotBeCreatedUnderAnAliasNorDeletedWhileAnAliasPointsToThem() {
        let image = Self.image()
        #expect(TopicAliasRules.topicCreationConflict("serving", in: image)?.contains("is an alias of 'v1'") == true)
        #expect(TopicAliasRules.topicCreationConflict("new", in: image) == nil)
        #expect(TopicAliasRules.topicDeletionConflict("v1", in: image)?.contains("target of alias(es) 'serving'") == true)
        #expect(TopicAliasRules.topicDeletionConflict("serving", in: image)?.contains("not a topic") == true)
        #expect(TopicAliasRules.topicDeletionConflict("v2", in: image) == nil)
    }
}
