// Accumulating records into producer batches: sequence numbers, delivery offsets, sizes.
import KafkaProtocol
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelClient

@Suite struct ProducerBatchTests {
    final class Results: Sendable {
        let values = Mutex<[DeliveryResult]>([])
        func add(_ result: DeliveryResult) { values.withLock { $0.append(result) } }
    }

    @Test func closedBatchCarriesProducerIdSequenceAndEveryRecord() throws {
        let topicPartition = TopicPartition(topic: "t", partition: 2)
        var batch = ProducerBatch(topicPartition: topicPartition, compression: .lz4, capacity: 1024, id: 1)
        for index in 0..<5 {
            let record = ProducerRecord(topic: "t", key: "key\(index)", value: "value\(index)")
            batch.append(record, timestamp: 100 + Int64(index), size: record.estimatedSize) { _ in }
        }
        batch.close(producerId: 99, producerEpoch: 3, baseSequence: 40)
        let bytes = try batch.build()
        let view = try RecordBatch(bytes)
        #expect(view.isCRCValid)
        #expect(view.producerId == 99)
        #expect(view.producerEpoch == 3)
        #expect(view.baseSequence == 40)
        #expect(view.recordsCount == 5)
        #expect(view.compression == .lz4)
        #expect(try view.records().map { String(buffer: $0.value ?? ByteBuffer()) } == (0..<5).map { "value\($0)" })
    }

    @Test func deliveryReportsOffsetsFromTheBaseOffsetAndCreateTimes() {
        let results = Results()
        var batch = ProducerBatch(topicPartition: TopicPartition(topic: "t", partition: 0), compression: .none,
                                  capacity: 256, id: 1)
        for index in 0..<3 {
            batch.append(ProducerRecord(topic: "t", key: nil, value: "v"), timestamp: 10 + Int64(index), size: 30) {
                results.add($0)
            }
        }
        batch.succeed(baseOffset: 1000, logAppendTime: -1)
        let metadata = results.values.withLock { $0 }.compactMap { try? $0.get() }
        #expect(metadata.map(\.offset) == [1000, 1001, 1002])
        #expect(metadata.map(\.timestamp) == [10, 11, 12])
    }

    @Test func logAppendTimeReplacesCreateTimeInReports() {
        let results = Results()
        var batch = ProducerBatch(topicPartition: TopicPartition(topic: "t", partition: 0), compression: .none,
                                  capacity: 256, id: 1)
        batch.append(ProducerRecord(topic: "t", key: nil, value: "v"), timestamp: 10, size: 30) { results.add($0) }
        batch.succeed(baseOffset: 5, logAppendTime: 777)
        #expect(results.values.withLock { $0 }.compactMap { try? $0.get() }.first?.timestamp == 777)
    }

    @Test func failureReachesEveryRecord() {
        let results = Results()
        var batch = ProducerBatch(topicPartition: TopicPartition(topic: "t", partition: 0), compression: .none,
                                  capacity: 256, id: 1)
        for _ in 0..<4 {
            batch.append(ProducerRecord(topic: "t", key: nil, value: "v"), timestamp: 1, size: 30) { results.add($0) }
        }
        batch.fail(.closed)
        #expect(results.values.withLock { $0 }.filter { (try? $0.get()) == nil }.count == 4)
    }

    @Test func idempotenceRequiresAcksAll() {
        var configuration = ProducerConfiguration()
        configuration.acks = .leader
        #expect(throws: KafkaClientError.self) { try configuration.validate() }
        configuration.enableIdempotence = false
        #expect(throws: Never.self) { try configuration.validate() }
    }
}
