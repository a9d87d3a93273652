// Tagged fields: unknown tags survive a round trip, defaults are omitted, known tags decode.
import KafkaProtocol
import NIOCore
import Testing

@Suite struct TaggedFieldTests {
    @Test func unknownTagsInTheBodyAndNestedStructsAreKeptAndWrittenBack() throws {
        var response = ApiVersionsResponse()
        var api = ApiVersionsResponse.ApiVersion()
        api.apiKey = 18
        api.maxVersion = 4
        api.unknownTaggedFields = [TaggedField(tag: 77, data: ByteBuffer(bytes: [1, 2, 3]))]
        response.apiKeys = [api]
        response.unknownTaggedFields = [TaggedField(tag: 9, data: ByteBuffer(bytes: [0xAA]))]
        var buffer = ByteBuffer()
        try response.encode(to: &buffer, version: 3)
        let decoded = try ApiVersionsResponse(from: &buffer, version: 3)
        #expect(decoded.unknownTaggedFields == response.unknownTaggedFields)
        #expect(decoded.apiKeys.first?.unknownTaggedFields == api.unknownTaggedFields)
        #expect(decoded == response)
    }

    @Test func taggedFieldsAtTheirDefaultAreOmitted() throws {
        var response = ApiVersionsResponse()
        var buffer = ByteBuffer()
        try response.encode(to: &buffer, version: 3)
        // error code, empty compact array, throttle time, zero tagged fields.
        #expect(Array(buffer.readableBytesView) == [0, 0, 1, 0, 0, 0, 0, 0])
        response.finalizedFeaturesEpoch = 5
        var withTag = ByteBuffer()
        try response.encode(to: &withTag, version: 3)
        // ... one tagged field: tag 1, size 8, int64 5.
        #expect(Array(withTag.readableBytesView) == [0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5])
        let decoded = try ApiVersionsResponse(from: &withTag, version: 3)
        #expect(decoded.finalizedFeaturesEpoch == 5)
        #expect(decoded.unknownTaggedFields.isEmpty)
    }

    @Test func knownAndUnknownTagsAreWrittenInAscendingTagOrder() throws {
        var response = ApiVersionsResponse()
        response.zkMigrationReady = true
        response.unknownTaggedFields = [TaggedField(tag: 2_000, data: ByteBuffer(bytes: [7])),
                                        TaggedField(tag: 1_000, data: ByteBuffer(bytes: [1]))]
        var buffer = ByteBuffer()
        try response.encode(to: &buffer, version: 3)
        var tags: [UInt32] = []
        buffer.moveReaderIndex(forwardBy: 7)
        let count = try buffer.readTaggedFieldCount(field: "t")
        for _ in 0..<count { tags.append(try buffer.readTaggedField(field: "t").tag) }
        #expect(tags == [3, 1_000, 2_000])
    }

    @Test func nonIgnorableFieldMissingInTheVersionFailsToEncodeUnlessDefault() throws {
        var request = MetadataRequest()
        var buffer = ByteBuffer()
        // AllowAutoTopicCreation exists from v4 on, defaults to true and is not ignorable.
        try request.encode(to: &buffer, version: 3)
        request.allowAutoTopicCreation = false
        #expect(throws: KafkaEncodingError.self) { try request.encode(to: &buffer, version: 3) }
        // An ignorable field (ClientSoftwareName, v3+) is silently dropped in older versions.
        var apiVersions = ApiVersionsRequest()
        apiVersions.clientSoftwareName = "x"
        try apiVersions.encode(to: &buffer, version: 2)
    }
}
