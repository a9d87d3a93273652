// ReadPlan: a fetch split around the partition lock. Under the lock: bounds, the segment, and the offset
// index lookups (memory only); outside it: the header scans, which `pread` the file; under the lock again:
// a check that no truncation happened meanwhile (else the read is redone under the lock) and, for
// read_committed, the aborted transactions. Bytes below a segment's visible size never change except by
// truncation, and the slice holds its own file handle, so the scan needs nothing else from the lock.
import KafkaRecords
import NIOCore

/// The lock-free part of a read, prepared under the lock.
struct ReadPlan: Sendable {
    var file: LogFileHandle
    var offset: Int64
    var upper: Int64
    var maxBytes: Int
    var minOneBatch: Bool
    /// Where the scans for `offset` and for `upper` start (offset index lookups), and where they stop.
    var scanFrom: Int64
    var upperScanFrom: Int64?
    var limit: Int64
    var result: LogReadResult
    var truncations: Int

    /// Runs the scans. Nil when the batch holding `offset` is not in this segment or lies at or past the
    /// bound: the caller then reads under the lock (the rare case that walks on to later segments).
    func execute() throws(StorageError) -> LogReadResult? {
        var scanner = BatchScanner(file: file, from: scanFrom, to: limit)
        var found: (position: Int64, header: RecordBatchHeader)?
        while case let .batch(header, position) = try scanner.next(verify: false) {
            if header.lastOffset >= offset {
                found = (position, header)
                break
            }
        }
        guard let (position, header) = found, header.baseOffset < upper else { return nil }
        var maxPosition = limit
        if let upperScanFrom {
            var bound = BatchScanner(file: file, from: upperScanFrom, to: limit)
            while case let .batch(next, at) = try bound.next(verify: false) {
                if next.lastOffset >= upper {
                    maxPosition = at
                    break
                }
            }
        }
        let available = Int(maxPosition - position)
        var length = min(max(maxBytes, 0), available)
        if minOneBatch && length < header.totalSize { length = min(header.totalSize, available) }
        var result = self.result
        if length > 0 {
            result.slices = [FileSlice(file: file, position: position, length: length)]
            result.firstBatchOffset = header.baseOffset
        }
        return result
    }
}

/// What the locked part of a read decided.
enum ReadStep {
    /// Answered without touching the file (nothing to read).
    case done(LogReadResult)
    /// Scan outside the lock.
    case scan(ReadPlan)
}

extension PartitionLogState {
    /// The locked first half of `PartitionLog.read`.
    func planRead(from offset: Int64, maxBytes: Int, isolation: FetchIsolation, minOneBatch: Bool) throws(StorageError) -> ReadStep {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        guard offset >= logStartOffset, offset <= logEndOffset else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: logStartOffset, logEndOffset: logEndOffset)
        }
        let upper: Int64 = switch isolation {
        case .logEnd: logEndOffset
        case .highWatermark: highWatermark
        case .transactionCommitted: lastStableOffset
        }
        let result = LogReadResult(slices: [], fetchOffset: offset, firstBatchOffset: nil, highWatermark: highWatermark,
                                   lastStableOffset: lastStableOffset, logStartOffset: logStartOffset,
                                   logEndOffset: logEndOffset,
                                   abortedTransactions: isolation == .transactionCommitted ? [] : nil)
        guard offset < upper, let index = segmentIndex(for: offset) else { return .done(result) }
        let segment = segments[index]
        try segment.load()
        return .scan(ReadPlan(file: try segment.logFile(), offset: offset, upper: upper, maxBytes: maxBytes,
                              minOneBatch: minOneBatch, scanFrom: segment.offsetIndex.lookup(offset).position,
                              upperScanFrom: upper < segment.nextOffset ? segment.offsetIndex.lookup(upper).position : nil,
                              limit: segment.visibleSize, result: result, truncations: truncations))
    }
}
