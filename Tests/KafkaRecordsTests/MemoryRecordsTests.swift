import KafkaRecords
import NIOCore
import Testing

@Suite struct MemoryRecordsTests {
    @Test func iteratesBatchesAsSlicesOfOneBuffer() throws {
        let parts = [try Sample.batch(count: 1), try Sample.batch(count: 2), try Sample.batch(count: 3)]
        let records = MemoryRecords(Sample.concat(parts))
        #expect(records.map(\.recordsCount) == [1, 2, 3])
        #expect(try records.batches().map(\.sizeInBytes) == parts.map(\.readableBytes))
    }

    @Test func lenientIterationStopsAtAPartialTrailingBatchButStrictThrows() throws {
        let whole = try Sample.batch(count: 2)
        let partial = whole.getSlice(at: 0, length: 40)!
        let records = MemoryRecords(Sample.concat([whole, partial]))
        var iterator = records.makeIterator()
        #expect(iterator.next() != nil)
        #expect(iterator.next() == nil)
        #expect(iterator.stopReason == nil)
        #expect(throws: RecordBatchError.self) { try records.batches() }
        var fetchStyle = records.batchIterator(allowPartialTrailingBatch: true)
        #expect(try fetchStyle.next() != nil)
        #expect(try fetchStyle.next() == nil)
    }

    @Test func lenientIterationRecordsWhyItStopped() throws {
        var old = try Sample.batch(count: 1)
        old.setInteger(Int8(1), at: RecordBatchLayout.magic)
        var iterator = MemoryRecords(Sample.concat([try Sample.batch(), old])).makeIterator()
        #expect(iterator.next() != nil)
        #expect(iterator.next() == nil)
        #expect(iterator.stopReason == .unsupportedMagic(position: try Sample.batch().readableBytes, magic: 1))
    }
}
