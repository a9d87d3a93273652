// Hand-checked byte vectors for a few messages and the header rules.
import KafkaProtocol
import NIOCore
import Testing

@Suite struct HandCheckedVectorTests {
    func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    @Test func apiVersionsRequestV3EncodesClientSoftwareNameAsCompactStrings() throws {
        var request = ApiVersionsRequest()
        request.clientSoftwareName = "kcat"
        request.clientSoftwareVersion = "1.7"
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 3)
        // compact string: varint(len+1), bytes; then an empty tagged field section.
        #expect(bytes(buffer) == [5, 0x6B, 0x63, 0x61, 0x74, 4, 0x31, 0x2E, 0x37, 0])
        let decoded = try ApiVersionsRequest(from: &buffer, version: 3)
        #expect(decoded == request)
        #expect(buffer.readableBytes == 0)
    }

    @Test func apiVersionsRequestV0IsEmptyAndDropsIgnorableFields() throws {
        var request = ApiVersionsRequest()
        request.clientSoftwareName = "kcat"
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test func metadataRequestV12EncodesTopicIdAndCompactName() throws {
        var topic = MetadataRequest.MetadataRequestTopic()
        topic.name = "t"
        var request = MetadataRequest()
        request.topics = [topic]
        request.allowAutoTopicCreation = false
        request.includeTopicAuthorizedOperations = true
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 12)
        var expected: [UInt8] = [2]                       // compact array of 1 topic
        expected += [UInt8](repeating: 0, count: 16)      // topic id (zero uuid)
        expected += [2, 0x74]                             // compact nullable string "t"
        expected += [0]                                   // topic tagged fields
        expected += [0]                                   // allowAutoTopicCreation false
        expected += [1]                                   // includeTopicAuthorizedOperations true
        expected += [0]                                   // message tagged fields
        #expect(bytes(buffer) == expected)
        let decoded = try MetadataRequest(from: &buffer, version: 12)
        #expect(decoded == request)
    }

    @Test func apiVersionsResponseHeaderIsAlwaysVersionZero() {
        #expect(ResponseHeader.headerVersion(apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3) == 0)
        #expect(ResponseHeader.headerVersion(apiKey: ApiKey.metadata.rawValue, apiVersion: 9) == 1)
        #expect(ResponseHeader.headerVersion(apiKey: ApiKey.metadata.rawValue, apiVersion: 8) == 0)
        #expect(RequestHeader.headerVersion(apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3) == 2)
        #expect(RequestHeader.headerVersion(apiKey: ApiKey.produce.rawValue, apiVersion: 8) == 1)
    }

    @Test func produceRequestRecordsAreASliceOfTheInputNotACopy() throws {
        var request = ProduceRequest()
        var topic = ProduceRequest.TopicProduceData()
        topic.name = "t"
        var partition = ProduceRequest.PartitionProduceData()
        partition.records = ByteBuffer(bytes: [UInt8](repeating: 0x42, count: 4096))
        topic.partitionData = [partition]
        request.topicData = [topic]
        var frame = ByteBuffer()
        try request.encode(to: &frame, version: 9)
        let frameRange: ClosedRange<UInt> = frame.withUnsafeReadableBytes { raw in
            let start = UInt(bitPattern: raw.baseAddress)
            return start...(start + UInt(raw.count))
        }
        let decoded = try ProduceRequest(from: &frame, version: 9)
        let records = try #require(decoded.topicData.first?.partitionData.first?.records)
        #expect(records.readableBytes == 4096)
        let recordsStart: UInt = records.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(frameRange.contains(recordsStart))
    }
}
