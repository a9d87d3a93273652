// The segmented Produce frame (batches written without copying) is byte for byte the frame the generated
// encoder writes, in every version the client sends.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelClient

@Suite struct ProduceFrameSegmentsTests {
    private func request(transactional: Bool) -> ProduceRequest {
        var request = ProduceRequest()
        request.transactionalId = transactional ? "tx-1" : nil
        request.acks = -1
        request.timeoutMs = 30_000
        request.topicData = ["orders", "payments"].enumerated().map { topicIndex, name in
            var topic = ProduceRequest.TopicProduceData()
            topic.name = name
            topic.topicId = KafkaUUID(mostSignificantBits: UInt64(topicIndex + 1), leastSignificantBits: 42)
            topic.partitionData = (0..<3).map { index in
                var data = ProduceRequest.PartitionProduceData()
                data.index = Int32(index)
                switch index {
                case 0: data.records = ByteBuffer(bytes: Array(repeating: UInt8(7), count: 300))
                case 1: data.records = nil
                default: data.records = ByteBuffer()
                }
                return data
            }
            return topic
        }
        return request
    }

    @Test(arguments: [Int16(3), 7, 8, 9, 12, 13])
    func segmentsConcatenateToTheGeneratedEncoding(version: Int16) throws {
        for transactional in [false, true] {
            let produce = request(transactional: transactional)
            let expected = try BrokerConnection.encodeFrame(produce, version: version, clientId: "runnel",
                                                            allocator: ByteBufferAllocator())
            let segments = try ProduceFrameSegments.encode(produce, version: version, clientId: "runnel",
                                                           allocator: ByteBufferAllocator())
            var joined = ByteBuffer()
            for var segment in segments { joined.writeBuffer(&segment) }
            #expect(joined == expected, "v\(version) transactional \(transactional)")
            #expect(segments.count > 1)
        }
    }

    @Test func versionsOutsideTheSupportedRangeAreRefused() {
        #expect(throws: KafkaClientError.self) {
            _ = try ProduceFrameSegments.encode(ProduceRequest(), version: 14, clientId: nil, allocator: ByteBufferAllocator())
        }
    }
}
