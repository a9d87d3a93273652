// Request and response headers: version rules, client id, tagged fields, routing peek.
import KafkaProtocol
import NIOCore
import Testing

@Suite struct HeaderTests {
    @Test func requestHeaderV2RoundTripsWithClientIdAndUnknownTags() throws {
        let header = RequestHeader(apiKey: ApiKey.metadata.rawValue, apiVersion: 12, correlationId: 42,
                                   clientId: "rdkafka", unknownTaggedFields: [TaggedField(tag: 3, data: ByteBuffer(bytes: [1]))])
        #expect(header.headerVersion == 2)
        var buffer = ByteBuffer()
        header.encode(to: &buffer)
        // The client id keeps its int16 length even in header v2.
        #expect(Array(buffer.readableBytesView.prefix(17)) == [0, 3, 0, 12, 0, 0, 0, 42, 0, 7] + Array("rdkafka".utf8))
        #expect(try RequestHeader(from: &buffer) == header)
        #expect(buffer.readableBytes == 0)
    }

    @Test func requestHeaderV1AllowsANullClientId() throws {
        let header = RequestHeader(apiKey: ApiKey.produce.rawValue, apiVersion: 8, correlationId: 1, clientId: nil)
        var buffer = ByteBuffer()
        header.encode(to: &buffer)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 8, 0, 0, 0, 1, 0xFF, 0xFF])
        #expect(try RequestHeader(from: &buffer, headerVersion: 1) == header)
    }

    @Test func aHeaderWithAnUnknownApiKeyStillDecodes() throws {
        var buffer = ByteBuffer(bytes: [0x03, 0xE7, 0, 1, 0, 0, 0, 9, 0, 1, 0x78])
        let header = try RequestHeader(from: &buffer)
        #expect(header.apiKey == 999)
        #expect(header.clientId == "x")
        #expect(!ApiKey(rawValue: header.apiKey).isKnown)
    }

    @Test func routingPeekReadsKeyVersionAndCorrelationFromJunkFrames() {
        let buffer = ByteBuffer(bytes: [0, 18, 0, 9, 0x12, 0x34, 0x56, 0x78, 0xFF, 0xFF, 0xFF])
        let routing = RequestRouting(peeking: buffer)
        #expect(routing == RequestRouting(apiKey: 18, apiVersion: 9, correlationId: 0x1234_5678))
        #expect(buffer.readerIndex == 0)
        #expect(RequestRouting(peeking: ByteBuffer(bytes: [0, 1, 2])) == nil)
    }

    @Test func responseHeaderVersionsFollowFlexibilityExceptApiVersions() throws {
        for version in Int16(0)...4 {
            #expect(ResponseHeader.headerVersion(apiKey: 18, apiVersion: version) == 0)
        }
        #expect(ResponseHeader.headerVersion(apiKey: ApiKey.fetch.rawValue, apiVersion: 12) == 1)
        #expect(ResponseHeader.headerVersion(apiKey: ApiKey.fetch.rawValue, apiVersion: 11) == 0)
        let header = ResponseHeader(correlationId: 7, unknownTaggedFields: [TaggedField(tag: 1, data: ByteBuffer(bytes: [2]))])
        var buffer = ByteBuffer()
        header.encode(to: &buffer, headerVersion: 1)
        #expect(try ResponseHeader(from: &buffer, headerVersion: 1) == header)
        var v0 = ByteBuffer()
        header.encode(to: &v0, headerVersion: 0)
        #expect(Array(v0.readableBytesView) == [0, 0, 0, 7])
    }
}
