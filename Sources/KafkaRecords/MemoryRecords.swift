// The batches of a `records` field (produce request, fetch response, segment bytes), iterated as slices.
import NIOCore

/// A sequence of magic-v2 record batches back to back in one buffer, each yielded as a zero-copy slice.
///
/// Iterating as a `Sequence` is lenient, as Kafka consumers are: it stops at the first partial or malformed
/// batch (a fetch response may end in a partial batch) and records why in `BatchIterator.stopReason`.
/// `batchIterator()` / `batches()` are strict and throw instead.
public struct MemoryRecords: Sequence, Sendable {
    /// The bytes; batches start at the reader index.
    public let buffer: ByteBuffer

    /// Wraps the readable bytes of `buffer` (no copy).
    public init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Total size in bytes.
    public var sizeInBytes: Int { buffer.readableBytes }

    /// The lenient iterator: stops quietly at a partial or malformed batch.
    public func makeIterator() -> LenientIterator {
        LenientIterator(inner: BatchIterator(buffer: buffer, allowPartialTrailingBatch: true))
    }

    /// A strict iterator. With `allowPartialTrailingBatch` a trailing batch cut short by the end of the buffer
    /// ends iteration quietly (fetch responses); otherwise it is `.truncatedBatch`.
    public func batchIterator(allowPartialTrailingBatch: Bool = false) -> BatchIterator {
        BatchIterator(buffer: buffer, allowPartialTrailingBatch: allowPartialTrailingBatch)
    }

    /// All batches, or the first error (strict: a partial trailing batch is an error).
    public func batches() throws(RecordBatchError) -> [RecordBatch] {
        var iterator = batchIterator()
        var result: [RecordBatch] = []
        while let batch = try iterator.next() { result.append(batch) }
        return result
    }

    /// Walks the batches one by one and throws on the first malformed one.
    public struct BatchIterator: Sendable {
        private let buffer: ByteBuffer
        private var index: Int
        private let allowPartialTrailingBatch: Bool

        init(buffer: ByteBuffer, allowPartialTrailingBatch: Bool) {
            self.buffer = buffer
            self.index = buffer.readerIndex
            self.allowPartialTrailingBatch = allowPartialTrailingBatch
        }

        /// Byte position of the next batch relative to the start of the records.
        public var position: Int { index - buffer.readerIndex }

        /// The next batch, nil at the end; the reader position only advances past whole batches.
        public mutating func next() throws(RecordBatchError) -> RecordBatch? {
            let available = buffer.writerIndex - index
            guard available > 0 else { return nil }
            do {
                let batch = try RecordBatch.cut(from: buffer, at: index, position: position)
                index += batch.sizeInBytes
                return batch
            } catch {
                if allowPartialTrailingBatch, Self.isTruncation(error) { return nil }
                throw error
            }
        }

        private static func isTruncation(_ error: RecordBatchError) -> Bool {
            switch error {
            case .truncatedHeader, .truncatedBatch: true
            default: false
            }
        }
    }

    /// The lenient `Sequence` iterator; `stopReason` says why iteration ended early, if it did.
    public struct LenientIterator: IteratorProtocol, Sendable {
        var inner: BatchIterator
        /// The error that ended iteration before the end of the buffer (nil when it reached the end or
        /// stopped at a partial trailing batch).
        public private(set) var stopReason: RecordBatchError?

        /// The next whole batch, nil at the end or at the first problem (then see `stopReason`).
        public mutating func next() -> RecordBatch? {
            guard stopReason == nil else { return nil }
            do {
                return try inner.next()
            } catch {
                stopReason = error
                return nil
            }
        }
    }
}

/// Kafka's other name for a run of batches.
public typealias RecordBatchSequence = MemoryRecords
