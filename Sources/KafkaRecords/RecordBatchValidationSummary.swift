// What the validator learnt from a `records` buffer: counts, offsets, timestamps and every batch header.
import NIOCore

/// The result of `RecordBatchValidator.validate`: enough for the produce path to assign offsets and update
/// producer state, and for recovery to rebuild indexes, without reading the batches again.
public struct RecordBatchValidationSummary: Sendable, Equatable {
    /// Number of batches.
    public private(set) var batchCount = 0
    /// Sum of the batches' `recordsCount`.
    public private(set) var recordCount = 0
    /// Bytes covered by the validated batches.
    public private(set) var validBytes = 0
    /// Largest `maxTimestamp` of any batch (-1 when none).
    public private(set) var maxTimestamp: Int64 = -1
    /// Last offset of the batch holding `maxTimestamp` (Kafka's shallowOffsetOfMaxTimestamp), -1 when none.
    public private(set) var offsetOfMaxTimestamp: Int64 = -1
    /// Every batch header, in order (with baseOffset as found; a produce request's are 0).
    public private(set) var headers: [RecordBatchHeader] = []
    /// True when any batch is compressed.
    public private(set) var hasCompressedBatches = false
    /// True when any batch is transactional.
    public private(set) var hasTransactionalBatches = false
    /// True when any batch is a control batch.
    public private(set) var hasControlBatches = false

    /// An empty summary (no batches).
    public init() {}

    /// The first batch's header, nil when there are no batches.
    public var firstBatch: RecordBatchHeader? { headers.first }
    /// The last batch's header.
    public var lastBatch: RecordBatchHeader? { headers.last }
    /// Base offset of the first batch (-1 when empty).
    public var firstOffset: Int64 { headers.first?.baseOffset ?? -1 }
    /// Last offset of the last batch (-1 when empty).
    public var lastOffset: Int64 { headers.last?.lastOffset ?? -1 }
    /// Sum of `lastOffsetDelta + 1` over the batches: the offsets the records will take in the log.
    public var offsetCount: Int64 { headers.reduce(0) { $0 + Int64($1.lastOffsetDelta) + 1 } }

    mutating func add(_ batch: RecordBatch) {
        let header = batch.header
        batchCount += 1
        recordCount += Int(header.recordsCount)
        validBytes += batch.sizeInBytes
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            offsetOfMaxTimestamp = header.lastOffset
        }
        if header.compression != CompressionCodec.none { hasCompressedBatches = true }
        if header.isTransactional { hasTransactionalBatches = true }
        if header.isControl { hasControlBatches = true }
        headers.append(header)
    }
}
