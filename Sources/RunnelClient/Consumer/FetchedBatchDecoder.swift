// Turns the records of one fetched partition into ConsumerRecords: skips what lies before the position,
// control batches and (read_committed) aborted transactions; verifies CRCs.
import KafkaProtocol
import KafkaRecords
import NIOCore

/// Decodes the record batches of one partition of a Fetch response.
struct FetchedBatchDecoder {
    var topicPartition: TopicPartition
    var isolationLevel: IsolationLevel
    var checkCRCs: Bool

    struct Output {
        var records: [ConsumerRecord] = []
        /// The offset to fetch next (past every whole batch seen, records or not).
        var nextOffset: Int64
    }

    /// Decodes `records` starting at `position`. `abortedTransactions` are (producer id, first offset).
    func decode(_ records: ByteBuffer, position: Int64,
                abortedTransactions: [(producerId: Int64, firstOffset: Int64)]) throws -> Output {
        var output = Output(nextOffset: position)
        var pendingAborts = abortedTransactions.sorted { $0.firstOffset < $1.firstOffset }[...]
        var abortedProducers: Set<Int64> = []
        var iterator = MemoryRecords(records).batchIterator(allowPartialTrailingBatch: true)
        while let batch = try nextBatch(&iterator) {
            if checkCRCs && !batch.isCRCValid {
                throw KafkaClientError.protocolError(
                    "record batch at offset \(batch.baseOffset) of \(topicPartition) failed its CRC check")
            }
            defer { output.nextOffset = Swift.max(output.nextOffset, batch.nextOffset) }
            guard batch.lastOffset >= position else { continue }
            if isolationLevel == .readCommitted {
                while let next = pendingAborts.first, next.firstOffset <= batch.lastOffset {
                    abortedProducers.insert(next.producerId)
                    pendingAborts = pendingAborts.dropFirst()
                }
            }
            if batch.isControl {
                if isolationLevel == .readCommitted, let marker = try? batch.endTransactionMarker(),
                   marker.type == .abort {
                    abortedProducers.remove(batch.producerId)
                }
                continue
            }
            if isolationLevel == .readCommitted && batch.isTransactional && abortedProducers.contains(batch.producerId) {
                continue
            }
            var recordIterator: RecordIterator
            do {
                recordIterator = try batch.makeRecordIterator()
            } catch {
                throw KafkaClientError.protocolError("cannot read batch at offset \(batch.baseOffset) of \(topicPartition): \(error)")
            }
            let timestampType = batch.timestampType
            while true {
                let next: Record?
                do { next = try recordIterator.next() } catch {
                    throw KafkaClientError.protocolError("corrupt record in \(topicPartition) at offset \(batch.baseOffset): \(error)")
                }
                guard let record = next else { break }
                guard record.offset >= position else { continue }
                output.records.append(ConsumerRecord(
                    topic: topicPartition.topic, partition: topicPartition.partition, offset: record.offset,
                    timestamp: record.timestamp, timestampType: timestampType, key: record.key, value: record.value,
                    headers: record.headers, leaderEpoch: batch.partitionLeaderEpoch))
            }
        }
        return output
    }

    private func nextBatch(_ iterator: inout MemoryRecords.BatchIterator) throws -> RecordBatch? {
        do {
            return try iterator.next()
        } catch {
            throw KafkaClientError.protocolError("malformed fetch data for \(topicPartition): \(error)")
        }
    }
}
