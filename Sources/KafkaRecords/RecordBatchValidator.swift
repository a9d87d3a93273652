// Header-level validation of a `records` buffer for the produce path, replication and log recovery,
// following the checks Kafka's LogValidator / UnifiedLog.analyzeAndValidateRecords make on v2 batches.
import NIOCore

/// Validates every batch of a `records` buffer and summarises it, without touching records unless
/// `options.recordValidation` asks for it.
public enum RecordBatchValidator {
    /// Where the bytes come from; clients are held to stricter rules than replicas or our own log.
    public enum Origin: Sendable, Equatable {
        /// A produce request: baseOffset must be 0, no control batches, offsets dense.
        case client
        /// The broker's own coordinators (group and transaction state, transaction markers): as a client
        /// batch, but control batches are allowed and producer batches carry no sequence.
        case coordinator
        /// Bytes a follower fetched, or the transaction coordinator's markers: offsets already assigned.
        case replication
        /// Our own segment files during recovery: offsets assigned, batches may be compacted.
        case recovery
    }

    /// Which batches get their records decoded (decompressing where needed).
    public enum RecordValidation: Sendable, Equatable {
        /// Header and CRC only.
        case headersOnly
        /// Decode records of compressed batches only (proves the compressed block is sound).
        case compressedBatches
        /// Decode every record of every batch.
        case allBatches
    }

    /// The CreateTime window a topic accepts around the broker's clock.
    public struct TimestampWindow: Sendable, Equatable {
        /// The broker's current time in milliseconds.
        public var now: Int64
        /// `message.timestamp.before.max.ms`: how far in the past a timestamp may be.
        public var beforeMaxMs: Int64
        /// `message.timestamp.after.max.ms`: how far in the future a timestamp may be.
        public var afterMaxMs: Int64

        /// A window of `beforeMaxMs` before and `afterMaxMs` after `now`.
        public init(now: Int64, beforeMaxMs: Int64, afterMaxMs: Int64) {
            self.now = now
            self.beforeMaxMs = beforeMaxMs
            self.afterMaxMs = afterMaxMs
        }
    }

    /// Validation settings; the defaults suit a produce request with no topic-specific rules.
    public struct Options: Sendable {
        /// Who wrote the bytes; selects the client-only checks.
        public var origin: Origin
        /// `max.message.bytes`: the largest batch accepted (RECORD_TOO_LARGE beyond it).
        public var maxBatchSize: Int?
        /// Produce v3+ requires exactly one batch per partition.
        public var requireSingleBatch: Bool
        /// Codecs the request may use (produce before v7 may not use zstd).
        public var allowedCodecs: Set<CompressionCodec>
        /// Which batches have their records decoded.
        public var recordValidation: RecordValidation
        /// A compacted topic rejects records without a key (forces record decoding).
        public var requireKeys: Bool
        /// CreateTime bounds checked on batch timestamps (and record timestamps when records are decoded).
        public var timestampWindow: TimestampWindow?
        /// Bound on decompressed records per batch when records are decoded.
        public var maxDecompressedBytes: Int

        /// Options for `validate`; every check beyond the header and CRC is opt-in.
        public init(origin: Origin = .client, maxBatchSize: Int? = nil, requireSingleBatch: Bool = false,
                    allowedCodecs: Set<CompressionCodec> = Set(CompressionCodec.allCases),
                    recordValidation: RecordValidation = .headersOnly, requireKeys: Bool = false,
                    timestampWindow: TimestampWindow? = nil,
                    maxDecompressedBytes: Int = RecordBatch.defaultMaxDecompressedBytes) {
            self.origin = origin
            self.maxBatchSize = maxBatchSize
            self.requireSingleBatch = requireSingleBatch
            self.allowedCodecs = allowedCodecs
            self.recordValidation = recordValidation
            self.requireKeys = requireKeys
            self.timestampWindow = timestampWindow
            self.maxDecompressedBytes = maxDecompressedBytes
        }
    }

    /// Validates all batches of `records` (from its reader index to its writer index).
    public static func validate(_ records: ByteBuffer, options: Options = Options())
        throws(RecordBatchError) -> RecordBatchValidationSummary {
        var summary = RecordBatchValidationSummary()
        var iterator = MemoryRecords(records).batchIterator()
        while true {
            let position = iterator.position
            guard let batch = try iterator.next() else { break }
            try check(batch, position: position, previous: summary.lastBatch, options: options)
            summary.add(batch)
        }
        if options.origin == .client {
            guard summary.batchCount > 0 else { throw .invalidRecord("produce records hold no record batch") }
            if summary.batchCount > 1 {
                if options.requireSingleBatch {
                    throw .invalidRecord("produce requests v3+ must carry exactly one record batch per partition, "
                        + "found \(summary.batchCount)")
                }
                if summary.headers.contains(where: { $0.compression != CompressionCodec.none }) {
                    throw .invalidRecord("compressed records must come in a single batch, found \(summary.batchCount)")
                }
            }
        }
        return summary
    }

    /// For log recovery: the length of the longest prefix of whole, valid batches, its summary, and the
    /// error that ended it (nil when the whole buffer is valid). Recovery truncates the segment there.
    public static func validPrefix(of records: ByteBuffer, options: Options = Options(origin: .recovery))
        -> (validBytes: Int, summary: RecordBatchValidationSummary, error: RecordBatchError?) {
        var summary = RecordBatchValidationSummary()
        var iterator = MemoryRecords(records).batchIterator()
        while true {
            let position = iterator.position
            do {
                guard let batch = try iterator.next() else { return (position, summary, nil) }
                try check(batch, position: position, previous: summary.lastBatch, options: options)
                summary.add(batch)
            } catch {
                return (position, summary, error)
            }
        }
    }

    /// The checks on one batch.
    static func check(_ batch: RecordBatch, position: Int, previous: RecordBatchHeader?,
                      options: Options) throws(RecordBatchError) {
        let header = batch.header
        if let maxBatchSize = options.maxBatchSize, batch.sizeInBytes > maxBatchSize {
            throw .batchTooLarge(size: batch.sizeInBytes, maximum: maxBatchSize)
        }
        let computed = batch.computedCRC
        guard computed == header.crc else { throw .crcMismatch(position: position, stored: header.crc, computed: computed) }
        guard let codec = header.compression else {
            throw .unknownCompressionCodec(position: position, id: header.attributes & 0x07)
        }
        guard options.allowedCodecs.contains(codec) else { throw .unsupportedCompression(codec) }
        try checkCountsAndOffsets(header, position: position, previous: previous, origin: options.origin)
        if options.origin == .client { try checkProducerFields(header, position: position) }
        if let window = options.timestampWindow, header.timestampType == .createTime {
            // maxTimestamp bounds every record from above; baseTimestamp is the first record's.
            try checkTimestamp(header.maxTimestamp, window: window, position: position)
            try checkTimestamp(header.baseTimestamp, window: window, position: position)
        }
        let decode: Bool = switch options.recordValidation {
        case .headersOnly: options.requireKeys
        case .compressedBatches: options.requireKeys || codec != .none
        case .allBatches: true
        }
        if decode, !header.isControl {
            try checkRecords(of: batch, position: position, options: options)
        }
    }

    private static func checkCountsAndOffsets(_ header: RecordBatchHeader, position: Int,
                                              previous: RecordBatchHeader?, origin: Origin) throws(RecordBatchError) {
        let at = "batch at byte \(position)"
        guard header.lastOffsetDelta >= 0 else {
            throw .invalidRecord("\(at) has an invalid offset range (lastOffsetDelta \(header.lastOffsetDelta))")
        }
        guard header.baseOffset >= 0, header.baseOffset <= Int64.max - Int64(header.lastOffsetDelta) else {
            throw .invalidRecord("\(at) has an invalid base offset \(header.baseOffset)")
        }
        switch origin {
        case .client, .coordinator:
            guard header.baseOffset == 0 else {
                throw .invalidRecord("\(at): the baseOffset of a produced batch must be 0, not \(header.baseOffset)")
            }
            guard header.recordsCount > 0 else {
                throw .invalidRecord("\(at) reports an invalid record count \(header.recordsCount)")
            }
            guard Int64(header.lastOffsetDelta) + 1 == Int64(header.recordsCount) else {
                throw .invalidRecord("\(at) has an inconsistent offset range: lastOffsetDelta "
                    + "\(header.lastOffsetDelta) for \(header.recordsCount) records")
            }
            if origin == .client, header.isControl { throw .invalidRecord("clients may not write control batches (\(at))") }
        case .replication, .recovery:
            // Compaction may remove records (even all of them) but keeps lastOffsetDelta.
            guard header.recordsCount >= 0, Int64(header.recordsCount) <= Int64(header.lastOffsetDelta) + 1 else {
                throw .invalidRecord("\(at) reports \(header.recordsCount) records for lastOffsetDelta "
                    + "\(header.lastOffsetDelta)")
            }
            if let previous, header.baseOffset <= previous.lastOffset {
                throw .invalidRecord("\(at) starts at offset \(header.baseOffset), not after the previous batch's "
                    + "last offset \(previous.lastOffset)")
            }
        }
    }

    private static func checkProducerFields(_ header: RecordBatchHeader, position: Int) throws(RecordBatchError) {
        let at = "batch at byte \(position)"
        if header.hasProducerId {
            if header.producerEpoch < 0 {
                throw .invalidRecord("\(at) has producer id \(header.producerId) but epoch \(header.producerEpoch)")
            }
            if header.baseSequence < 0 {
                throw .invalidRecord("\(at) has producer id \(header.producerId) but invalid sequence \(header.baseSequence)")
            }
        } else if header.isTransactional {
            throw .invalidRecord("\(at) is transactional but has no producer id")
        }
    }

    private static func checkTimestamp(_ timestamp: Int64, window: TimestampWindow,
                                       position: Int) throws(RecordBatchError) {
        guard timestamp >= 0 else { return } // -1 means no timestamp
        let (low, lowOverflow) = window.now.subtractingReportingOverflow(window.beforeMaxMs)
        let (high, highOverflow) = window.now.addingReportingOverflow(window.afterMaxMs)
        if !lowOverflow, timestamp < low {
            throw .invalidTimestamp("batch at byte \(position): timestamp \(timestamp) is more than "
                + "\(window.beforeMaxMs) ms before now (\(window.now)) (message.timestamp.before.max.ms)")
        }
        if !highOverflow, timestamp > high {
            throw .invalidTimestamp("batch at byte \(position): timestamp \(timestamp) is more than "
                + "\(window.afterMaxMs) ms after now (\(window.now)) (message.timestamp.after.max.ms)")
        }
    }

    private static func checkRecords(of batch: RecordBatch, position: Int, options: Options) throws(RecordBatchError) {
        guard let codec = batch.header.compression else {
            throw .unknownCompressionCodec(position: position, id: batch.header.attributes & 0x07)
        }
        let section = batch.recordsSection
        let records = codec == .none ? section
            : try RecordCompression.decompress(section, codec: codec, maxOutputBytes: options.maxDecompressedBytes)
        _ = try checkRecords(records, header: batch.header, position: position, options: options)
    }

    /// Walks the uncompressed `records` of the batch with `header` without allocating per record: checks
    /// their encoding, that they match the declared count, dense offset deltas (clients), keys (compacted
    /// topics) and the CreateTime window. Returns the largest record timestamp (-1 when there is none).
    static func checkRecords(_ records: ByteBuffer, header: RecordBatchHeader, position: Int,
                             options: Options) throws(RecordBatchError) -> Int64 {
        var remaining = records
        var expectedDelta: Int32 = 0
        var maxTimestamp: Int64 = -1
        let dense = options.origin == .client || options.origin == .coordinator
        let window = header.timestampType == .createTime ? options.timestampWindow : nil
        guard header.recordsCount >= 0 else { throw .invalidRecord("negative record count \(header.recordsCount)") }
        for _ in 0..<header.recordsCount {
            guard remaining.readableBytes > 0 else {
                throw .corruptRecord("batch ended with \(header.recordsCount - expectedDelta) declared records still unread")
            }
            let record = try RecordFrame.read(from: &remaining)
            if dense, record.offsetDelta != expectedDelta {
                throw .invalidRecord("batch at byte \(position): record offset delta \(record.offsetDelta), "
                    + "expected \(expectedDelta)")
            }
            guard record.offsetDelta >= 0, record.offsetDelta <= header.lastOffsetDelta else {
                throw .invalidRecord("batch at byte \(position): record offset delta \(record.offsetDelta) outside "
                    + "0...\(header.lastOffsetDelta)")
            }
            if options.requireKeys, !record.hasKey {
                throw .invalidRecord("compacted topic cannot accept a record without a key (offset delta "
                    + "\(record.offsetDelta))")
            }
            let (timestamp, overflow) = header.baseTimestamp.addingReportingOverflow(record.timestampDelta)
            guard !overflow else { throw .corruptRecord("timestamp delta \(record.timestampDelta) overflows") }
            if let window { try checkTimestamp(timestamp, window: window, position: position) }
            maxTimestamp = Swift.max(maxTimestamp, timestamp)
            expectedDelta &+= 1
        }
        guard remaining.readableBytes == 0 else {
            throw .corruptRecord("\(remaining.readableBytes) bytes remain after the declared number of records")
        }
        return maxTimestamp
    }
}
