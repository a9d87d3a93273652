// ProducerStateEntry: what a partition remembers about one producer id — epoch, the last five batch
// sequence ranges with their offsets (duplicate detection), and the open transaction's first offset.
import KafkaRecords

/// One appended batch of an idempotent producer.
public struct ProducerBatchMetadata: Sendable, Equatable {
    /// Sequence of the batch's first record.
    public var firstSequence: Int32
    /// Sequence of the batch's last record.
    public var lastSequence: Int32
    /// Offset the batch's first record got.
    public var firstOffset: Int64
    /// Offset the batch's last record got.
    public var lastOffset: Int64
    /// The batch's max timestamp.
    public var timestamp: Int64
}

/// State of one producer id in one partition (also what DescribeProducers reports).
public struct ProducerStateEntry: Sendable, Equatable {
    /// Batches remembered per producer for duplicate detection (Kafka's five).
    public static let batchesRetained = 5
    /// The producer id.
    public var producerId: Int64
    /// The producer's current epoch.
    public var producerEpoch: Int16
    /// Oldest first, at most five.
    public var batches: [ProducerBatchMetadata] = []
    /// Epoch of the transaction coordinator that wrote its last marker (-1 none).
    public var coordinatorEpoch: Int32 = -1
    /// First offset of the producer's open transaction, nil when none.
    public var currentTxnFirstOffset: Int64?
    /// Wall-clock time (ms) of the producer's last append, for producer.id.expiration.ms.
    public var lastUpdateMs: Int64

    /// Sequence of the last record appended (-1 none).
    public var lastSequence: Int32 { batches.last?.lastSequence ?? -1 }
    /// Offset of the last record appended (-1 none).
    public var lastOffset: Int64 { batches.last?.lastOffset ?? -1 }
    /// Timestamp of the last batch (DescribeProducers' LastTimestamp).
    public var lastTimestamp: Int64 { batches.last?.timestamp ?? -1 }

    func duplicate(of header: RecordBatchHeader) -> ProducerBatchMetadata? {
        guard header.producerEpoch == producerEpoch else { return nil }
        return batches.first { $0.firstSequence == header.baseSequence && $0.lastSequence == header.lastSequence }
    }

    static func inSequence(last: Int32, next: Int32) -> Bool {
        next == last &+ 1 || (next == 0 && last == Int32.max)
    }

    /// Validates a client batch against this entry (Kafka's epoch and sequence rules).
    func check(_ header: RecordBatchHeader) throws(StorageError) {
        if header.producerEpoch < producerEpoch {
            throw .invalidProducerEpoch(producerId: producerId, current: producerEpoch, received: header.producerEpoch)
        }
        if header.isControl { return }
        if header.producerEpoch != producerEpoch {
            if header.baseSequence != 0 {
                throw .outOfOrderSequence(producerId: producerId, expected: 0, received: header.baseSequence)
            }
        } else if !Self.inSequence(last: lastSequence, next: header.baseSequence) {
            throw .outOfOrderSequence(producerId: producerId, expected: lastSequence &+ 1, received: header.baseSequence)
        }
    }

    /// Records a data batch (offsets already assigned).
    mutating func add(_ header: RecordBatchHeader, nowMs: Int64) {
        if header.producerEpoch != producerEpoch {
            producerEpoch = header.producerEpoch
            batches.removeAll()
        }
        lastUpdateMs = nowMs
        guard !header.isControl else { return }
        batches.append(ProducerBatchMetadata(firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                                             firstOffset: header.baseOffset, lastOffset: header.lastOffset,
                                             timestamp: header.maxTimestamp))
        if batches.count > Self.batchesRetained { batches.removeFirst(batches.count - Self.batchesRetained) }
        if header.isTransactional && currentTxnFirstOffset == nil { currentTxnFirstOffset = header.baseOffset }
    }
}
