// ReadPlan: the one read algorithm, a fetch split around the partition lock. Under the lock: bounds, the
// segment, and the offset index lookups (memory only); outside it: the header scans, which `pread` the
// file; under the lock again: a check that no truncation happened meanwhile (else the same plan is run
// under the lock, segment after segment) and, for read_committed, the aborted transactions. Bytes below a segment's visible size never change except by
// truncation, and the slice holds its own file handle, so the scan needs nothing else from the lock.
import KafkaRecords
import NIOCore

/// The lock-free part of a read, prepared under the lock.
struct ReadPlan: Sendable {
    /// The segment file the answer's slices name; nil for a remote segment compressed at rest, whose
    /// answer is bytes in memory read from `source`.
    var file: LogFileHandle?
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
    /// Where the scans read when it is not `file` (a remote segment compressed at rest).
    var source: (any SegmentBytes)? = nil
    /// The remote segment after `source` (compressed at rest), where read-ahead continues past its end.
    var next: (any SegmentBytes)? = nil
    /// The active segment's cached tail bytes from `scanFrom` on (direct path, tail cache): the scans and
    /// the answer use them instead of the file where they hold the range.
    var cached: TailCacheView?
    /// Counts hits and misses (reads of a direct log dir's data).
    var counter: TailCache?

    /// Runs the scans. Nil when the batch holding `offset` is not in this segment or lies at or past the
    /// bound: the caller then reads under the lock (the rare case that walks on to later segments).
    func execute() throws(StorageError) -> LogReadResult? {
        guard let bytes: any SegmentBytes = source ?? file else { return nil }
        var scanner = BatchScanner(file: bytes, from: scanFrom, to: limit, cached: cached)
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
            var bound = BatchScanner(file: bytes, from: upperScanFrom, to: limit, cached: cached)
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
            if let buffers = cached?.slices(at: position, length: length) {
                result.buffers = buffers
            } else if let file {
                result.slices = [FileSlice(file: file, position: position, length: length)]
            } else {
                // A remote segment compressed at rest: its decompressed frames, and the next answer's
                // range (as much as this Fetch could ask for, not only what it got: an answer cut short by
                // the segment's end is followed by a full one from the next segment) queued for
                // decompression while this one is written.
                result.buffers = try bytes.readBuffers(at: position, length: length)
                let end = position + Int64(length)
                let ahead = max(length, maxBytes)
                bytes.readAhead(at: end, length: ahead)
                if end + Int64(ahead) > limit { next?.readAhead(at: 0, length: ahead) }
            }
            counter?.record(hit: !result.buffers.isEmpty)
            result.firstBatchOffset = header.baseOffset
        }
        return result
    }
}
