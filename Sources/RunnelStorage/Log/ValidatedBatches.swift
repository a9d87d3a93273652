// ValidatedBatches: record batches checked once, by RecordBatchValidator (KafkaRecords), together with
// the headers it parsed. The log appends them without parsing or checking headers again; it only adds
// what the log itself decides (offsets, producer sequences, segment capacity).
import KafkaRecords
import NIOCore

/// Batches that passed `RecordBatchValidator.validate`, with their parsed headers in order.
public struct ValidatedBatches: Sendable {
    /// The batches, contiguous from `records.readerIndex`.
    public let records: ByteBuffer
    /// One header per batch, in order.
    public let headers: [RecordBatchHeader]

    /// Wraps `records` with the summary `RecordBatchValidator.validate` returned for exactly these bytes.
    public init(records: ByteBuffer, validatedBy summary: RecordBatchValidationSummary) {
        self.records = records
        self.headers = summary.headers
    }

    /// Validates `records` with `options` (magic, lengths, CRC-32C, counts, sizes, and whatever else the
    /// options ask for).
    public static func validate(_ records: ByteBuffer,
                                options: RecordBatchValidator.Options) throws(RecordBatchError) -> ValidatedBatches {
        ValidatedBatches(records: records, validatedBy: try RecordBatchValidator.validate(records, options: options))
    }

    /// The header checks the log applies to `origin` when a caller hands it raw bytes: for clients the
    /// broker's produce checks (no control batches, at most `maxMessageBytes` a batch); coordinators may
    /// write control batches (transaction markers) within the same size limit; replication keeps offsets
    /// as sent and is not size-limited. Errors are the `StorageError` cases the broker maps to the codes a
    /// client sees today (INVALID_RECORD, MESSAGE_TOO_LARGE, CORRUPT_MESSAGE).
    public static func validate(_ records: ByteBuffer, origin: AppendOrigin,
                                maxMessageBytes: Int) throws(StorageError) -> ValidatedBatches {
        var options = RecordBatchValidator.Options(origin: origin == .client ? .client : .replication,
                                                   maxBatchSize: origin == .replication ? nil : maxMessageBytes)
        options.recordValidation = .headersOnly
        do throws(RecordBatchError) {
            return try validate(records, options: options)
        } catch {
            switch error {
            case let .batchTooLarge(size, maximum): throw .messageTooLarge(size: size, limit: maximum)
            case let .invalidRecord(reason): throw .invalidRecord(reason)
            default: throw .corruptMessage(error.description)
            }
        }
    }

    /// Total bytes of the batches.
    var totalBytes: Int { headers.reduce(0) { $0 + $1.totalSize } }
}
