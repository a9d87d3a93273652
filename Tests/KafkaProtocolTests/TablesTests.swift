// ErrorCode and ApiKey tables.
import KafkaProtocol
import Testing

@Suite struct TablesTests {
    @Test func errorCodesCarryKafkasNamesRetriabilityAndMessages() {
        #expect(ErrorCode.none.rawValue == 0)
        #expect(ErrorCode.unknownServerError.rawValue == -1)
        #expect(ErrorCode.unknownTopicOrPartition.name == "UNKNOWN_TOPIC_OR_PARTITION")
        #expect(ErrorCode.unknownTopicOrPartition.isRetriable)
        #expect(ErrorCode.notLeaderOrFollower.rawValue == 6)
        #expect(ErrorCode.outOfOrderSequenceNumber.rawValue == 45)
        #expect(!ErrorCode.invalidProducerEpoch.isRetriable)
        #expect(ErrorCode.unsupportedVersion.rawValue == 35)
        #expect(ErrorCode.shareSessionLimitReached.rawValue == 133)
        #expect(!ErrorCode.topicAuthorizationFailed.message.isEmpty)
        #expect(ErrorCode(name: "NOT_COORDINATOR") == .notCoordinator)
        #expect(ErrorCode(rawValue: 500).name == "UNKNOWN_500")
    }

    @Test func theErrorTableIsDenseAndNamesAreUnique() {
        let all = ErrorCode.all
        #expect(all.map(\.rawValue) == Array(Int16(-1)...133))
        #expect(Set(all.map(\.name)).count == all.count)
    }

    @Test func apiKeysCarryTheSchemaVersionRanges() {
        #expect(ApiKey.produce.rawValue == 0)
        #expect(ApiKey.produce.validVersions == 3...13)
        #expect(ApiKey.produce.flexibleFrom == 9)
        #expect(ApiKey.apiVersions.name == "ApiVersions")
        #expect(ApiKey.saslHandshake.flexibleFrom == nil)
        #expect(ApiKey.leaderAndIsr.validVersions == nil)
        #expect(ApiKey.vote.isBrokerAPI == false)
        #expect(ApiKey.metadata.isBrokerAPI)
        #expect(ApiKey.all.count >= 93)
        #expect(ApiKey(rawValue: 1000).validVersions == nil)
    }
}
