// TierState: the remote segments of one partition (all below its first local segment), under the
// partition lock: lookups by offset and timestamp, the read plan for a remote segment, aborted
// transactions, and which remote segments retention deletes. Indexes of a remote segment are fetched
// from the store once, on first use, and kept in memory like a local segment's.
import KafkaRecords
import NIOCore

/// One published remote segment. Used only under its partition's lock.
final class RemoteSegment {
    let metadata: RemoteSegmentMetadata
    private(set) var reader: (any RemoteSegmentReader)?
    private(set) var offsetIndex: OffsetIndex
    private(set) var timeIndex: TimeIndex
    private(set) var aborted: [AbortedTransaction] = []

    init(_ metadata: RemoteSegmentMetadata) {
        self.metadata = metadata
        offsetIndex = OffsetIndex(path: "", baseOffset: metadata.baseOffset, maxIndexBytes: Int.max)
        timeIndex = TimeIndex(path: "", baseOffset: metadata.baseOffset, maxIndexBytes: Int.max)
    }

    var baseOffset: Int64 { metadata.baseOffset }
    var endOffset: Int64 { metadata.endOffset }

    /// Opens the segment in the store and loads its indexes (once).
    func open(_ store: any RemoteSegmentStore) throws(StorageError) -> any RemoteSegmentReader {
        if let reader { return reader }
        let opened = try store.open(metadata)
        let base = metadata.baseOffset
        if let bytes = try opened.index(.offset) {
            var entries: [OffsetIndex.Entry] = []
            for stored in IndexFileFormat.offsetEntries(in: bytes) {
                let entry = OffsetIndex.Entry(offset: base + Int64(stored.relativeOffset), position: stored.position)
                // Only ascending entries inside the segment are usable (a zero-filled tail ends the index).
                guard stored.relativeOffset >= 0, entry.position < metadata.size,
                      entries.last.map({ entry.offset > $0.offset && entry.position > $0.position }) ?? true else { break }
                entries.append(entry)
            }
            offsetIndex.loaded(entries)
        }
        if let bytes = try opened.index(.time) {
            var entries: [TimeIndex.Entry] = []
            for stored in IndexFileFormat.timeEntries(in: bytes) {
                let entry = TimeIndex.Entry(timestamp: stored.timestamp, offset: base + Int64(stored.relativeOffset))
                guard stored.relativeOffset >= 0, entry.offset < metadata.endOffset,
                      entries.last.map({ entry.timestamp >= $0.timestamp && entry.offset >= $0.offset }) ?? true else { break }
                entries.append(entry)
            }
            timeIndex.loaded(entries)
        }
        if let bytes = try opened.index(.transaction) { aborted = TransactionIndex.parse(bytes) ?? [] }
        reader = opened
        return opened
    }

    /// Where reads of this segment's bytes go: its file (sendfile) or the store's reader.
    func source(_ reader: any RemoteSegmentReader) -> any SegmentBytes {
        reader.zeroCopyFile ?? RemoteReaderBytes(reader: reader)
    }
}

/// A remote reader as a scan source.
struct RemoteReaderBytes: SegmentBytes {
    let reader: any RemoteSegmentReader
    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer { try reader.read(at: position, length: length) }
    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer] {
        try reader.readBuffers(at: position, length: length)
    }
    func readAhead(at position: Int64, length: Int) { reader.readAhead(at: position, length: length) }
}

/// The remote tier of one partition. Used only under its partition's lock.
final class TierState {
    /// The store (nil: no `remote.log.dir`; the partition is local only).
    var store: (any RemoteSegmentStore)?
    var topic = ""
    var partition: Int32 = 0
    /// Remote segments, oldest first, all below the first local segment.
    var segments: [RemoteSegment] = []
    /// Test hook: stop the copy–publish–delete sequence after this step, as a crash would.
    var crashPoint: TieringStep?

    /// Bytes of the remote segments (uncompressed: what retention.bytes counts).
    var size: Int64 { segments.reduce(0) { $0 + $1.metadata.size } }

    /// Index of the remote segment that may hold `offset`.
    func segmentIndex(for offset: Int64) -> Int? {
        guard let first = segments.first, offset >= first.baseOffset,
              let last = segments.last, offset < last.endOffset else { return nil }
        return segments.lastIndex { $0.baseOffset <= offset }
    }

    /// Aborted transactions with records in [from, to) from remote segments.
    func abortedTransactions(from: Int64, to: Int64) -> [AbortedTransaction] {
        guard let start = segmentIndex(for: from) else { return [] }
        var found: [AbortedTransaction] = []
        for segment in segments[start...] {
            if segment.baseOffset >= to { break }
            found.append(contentsOf: segment.aborted.filter { $0.lastOffset >= from && $0.firstOffset < to })
        }
        return found
    }

    /// The read plan for the remote segment at `index` (indexes in memory; the scan runs outside the lock).
    func readPlan(segmentAt index: Int, offset: Int64, upper: Int64, maxBytes: Int, minOneBatch: Bool,
                  result: LogReadResult, truncations: Int) throws(StorageError) -> ReadPlan? {
        guard let store else { return nil }
        let segment = segments[index]
        let reader = try segment.open(store)
        let source = segment.source(reader)
        // A compressed segment's read-ahead may run on into the next remote segment (opened now, once).
        var next: (any SegmentBytes)?
        if reader.zeroCopyFile == nil, index + 1 < segments.count, let opened = try? segments[index + 1].open(store),
           opened.zeroCopyFile == nil {
            next = segments[index + 1].source(opened)
        }
        var plan = ReadPlan(file: reader.zeroCopyFile, offset: offset, upper: upper, maxBytes: maxBytes,
                        minOneBatch: minOneBatch, scanFrom: segment.offsetIndex.lookup(offset).position,
                        upperScanFrom: upper < segment.endOffset ? segment.offsetIndex.lookup(upper).position : nil,
                        limit: segment.metadata.size, result: result, truncations: truncations,
                        source: reader.zeroCopyFile == nil ? source : nil)
        plan.next = next
        return plan
    }

    /// ListOffsets by time: the first record at or after `minOffset` with a timestamp ≥ `target`.
    func offset(atOrAfterTimestamp target: Int64, minOffset: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        guard let store else { return nil }
        for segment in segments where segment.endOffset > minOffset && segment.metadata.maxTimestamp >= target {
            let reader = try segment.open(store)
            if let found = try SegmentTimestampLookup.firstOffset(
                atOrAfterTimestamp: target, minOffset: minOffset, limit: segment.metadata.size,
                timeIndex: segment.timeIndex, offsetIndex: segment.offsetIndex, source: segment.source(reader)) {
                return found
            }
        }
        return nil
    }

    /// The remote segment holding the largest timestamp at or after `minOffset` (nil when none).
    func maxTimestampSegment(minOffset: Int64) -> RemoteSegment? {
        var best: RemoteSegment?
        for segment in segments where segment.metadata.maxTimestamp >= 0 && segment.endOffset > minOffset
            && segment.metadata.maxTimestamp >= (best?.metadata.maxTimestamp ?? -1) {
            best = segment
        }
        return best
    }

    /// The record with the largest timestamp inside `segment`.
    func maxTimestampOffset(in segment: RemoteSegment, minOffset: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        guard let store else { return nil }
        let reader = try segment.open(store)
        return try SegmentTimestampLookup.firstOffset(
            atOrAfterTimestamp: segment.metadata.maxTimestamp, minOffset: minOffset, limit: segment.metadata.size,
            timeIndex: segment.timeIndex, offsetIndex: segment.offsetIndex, source: segment.source(reader))
    }

    /// Takes out the oldest remote segments retention deletes: wholly below the log start offset, older
    /// than retention.ms, or while the partition (remote and local) is larger than retention.bytes.
    func takeExpired(config: LogConfig, logStartOffset: Int64, localSize: Int64, nowMs: Int64) -> [RemoteSegmentMetadata] {
        var remaining = size + localSize
        var expired: [RemoteSegmentMetadata] = []
        for segment in segments {
            var due = segment.endOffset <= logStartOffset
            if config.cleanupPolicy.contains(.delete) {
                if config.retentionMs >= 0 && nowMs - segment.metadata.maxTimestamp > config.retentionMs { due = true }
                if config.retentionBytes >= 0 && remaining - segment.metadata.size >= config.retentionBytes { due = true }
            }
            guard due else { break }
            expired.append(segment.metadata)
            remaining -= segment.metadata.size
        }
        segments.removeFirst(expired.count)
        return expired
    }
}

extension TierState {
    /// Sets the store and the partition it serves (before the log is opened).
    func configure(store: (any RemoteSegmentStore)?, topic: String, partition: Int32, crashPoint: TieringStep?) {
        self.store = store
        self.topic = topic
        self.partition = partition
        self.crashPoint = crashPoint
    }
}
