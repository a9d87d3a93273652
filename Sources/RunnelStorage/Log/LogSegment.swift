// LogSegment: one `<20-digit base offset>.log` file with its `.index` and `.timeindex`: the append
// bookkeeping (sizes, next offset, largest timestamp, index entries every index.interval.bytes),
// offset → position and timestamp → offset translation, clean loading, recovery (validate, truncate,
// rebuild indexes). Index bytes written behind are returned to the caller for the I/O engine.
import KafkaRecords
import NIOCore

/// One segment. Not thread-safe: used only under its partition's lock.
final class LogSegment {
    let baseOffset: Int64
    let directory: String
    let cache: FileHandleCache
    /// "" for a live segment, ".deleted" once scheduled for removal, ".cleaned"/".swap" during compaction.
    private(set) var suffix = "" {
        didSet { logPath = directory + "/" + Self.fileName(baseOffset, ".log") + suffix }
    }
    /// The `.log` file's current path (kept, not rebuilt on every append).
    private(set) var logPath: String
    let offsetIndex: OffsetIndex
    let timeIndex: TimeIndex
    let transactionIndex: TransactionIndex
    /// Bytes written or reserved by in-flight appends.
    var size: Int64
    /// Bytes readers may see: appends whose write completed.
    var visibleSize: Int64
    /// One past the last offset in the segment (== baseOffset when empty).
    var nextOffset: Int64
    /// Largest batch max timestamp in the segment, -1 when none.
    var maxTimestamp: Int64 = -1
    var offsetOfMaxTimestamp: Int64 = -1
    var bytesSinceLastIndexEntry = 0
    /// Wall-clock time the segment was created or opened (segment.ms rolls from here).
    var createdAtMs: Int64
    private(set) var isLoaded = false
    /// index.interval.bytes used when indexes are rebuilt.
    var indexIntervalBytes: Int
    /// The aligned tail on the direct write path (nil on the buffered path, and until the first append
    /// after an open or a truncation).
    var directTail: DirectTail? {
        didSet { if directTail != nil { sealedCache = nil } }
    }
    /// After a roll on the direct path: the last tail's buffers, still in the tail cache, so readers just
    /// behind the roll (tail consumers, followers) read them from memory — the file's bytes are not in
    /// the page cache. Dropped with any change of the file's bytes (truncation, rename, deletion).
    private(set) var sealedCache: TailCacheRegistration?

    /// The segment rolled: its tail's O_DIRECT handle and buffers go, the cached buffers stay readable.
    func sealDirectTail() {
        let registration = directTail?.cached
        directTail = nil
        sealedCache = registration
    }

    /// The tail cache's bytes of this segment from `position` on: the active tail's, or a rolled one's.
    func cacheView(from position: Int64) -> TailCacheView? {
        if let directTail { return directTail.cacheView(from: position) }
        return sealedCache?.view(from: position, end: size)
    }

    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    private init(directory: String, baseOffset: Int64, size: Int64, config: LogConfig, cache: FileHandleCache, now: Int64) {
        self.directory = directory
        self.baseOffset = baseOffset
        self.cache = cache
        self.size = size
        visibleSize = size
        nextOffset = baseOffset
        createdAtMs = now
        indexIntervalBytes = config.indexIntervalBytes
        let stem = directory + "/" + Self.fileName(baseOffset, "")
        logPath = stem + ".log"
        offsetIndex = OffsetIndex(path: stem + ".index", baseOffset: baseOffset, maxIndexBytes: config.segmentIndexBytes)
        timeIndex = TimeIndex(path: stem + ".timeindex", baseOffset: baseOffset, maxIndexBytes: config.segmentIndexBytes)
        transactionIndex = TransactionIndex(path: stem + ".txnindex")
    }

    /// Creates an empty segment and its files.
    static func create(directory: String, baseOffset: Int64, config: LogConfig, cache: FileHandleCache,
                       now: Int64) throws(StorageError) -> LogSegment {
        let segment = LogSegment(directory: directory, baseOffset: baseOffset, size: 0, config: config, cache: cache, now: now)
        let log = try cache.handle(segment.logPath, create: true)
        try log.truncate(to: 0)
        if config.preallocate { DirectIO.preallocate(log, bytes: config.segmentBytes) }
        try cache.handle(segment.offsetIndex.path, create: true).truncate(to: 0)
        try cache.handle(segment.timeIndex.path, create: true).truncate(to: 0)
        segment.transactionIndex.removeFile()
        segment.isLoaded = true
        return segment
    }

    /// A segment found on disk; `load` or `recover` fills in its state.
    static func open(directory: String, baseOffset: Int64, config: LogConfig, cache: FileHandleCache,
                     now: Int64) throws(StorageError) -> LogSegment {
        let size = try FileSystem.fileSize(directory + "/" + fileName(baseOffset, ".log"))
        return LogSegment(directory: directory, baseOffset: baseOffset, size: size, config: config, cache: cache, now: now)
    }

    var isEmpty: Bool { size == 0 }

    func logFile() throws(StorageError) -> LogFileHandle { try cache.handle(logPath, create: false) }

    /// Clean open: loads the indexes (rebuilding them when inconsistent) and reads only the headers after
    /// the last offset index entry to learn the next offset and the largest timestamp.
    func load() throws(StorageError) {
        guard !isLoaded else { return }
        let indexesGood = try offsetIndex.load(logSize: size)
        if !indexesGood {
            _ = try recover()
            return
        }
        let start = offsetIndex.lastEntry?.position ?? 0
        nextOffset = offsetIndex.lastEntry.map { $0.offset + 1 } ?? baseOffset
        var scanner = BatchScanner(file: try logFile(), from: start, to: size)
        var lastPosition = start
        while case let .batch(header, position) = try scanner.next(verify: false) {
            nextOffset = header.lastOffset + 1
            noteTimestamp(header)
            lastPosition = position + Int64(header.totalSize)
        }
        bytesSinceLastIndexEntry = Int(lastPosition - start)
        if lastPosition != size {
            // The tail is not a whole batch although the shutdown was clean: recover this segment.
            _ = try recover()
            return
        }
        guard try timeIndex.load(nextOffset: nextOffset) else {
            _ = try recover()
            return
        }
        if let last = timeIndex.lastEntry, last.timestamp > maxTimestamp {
            maxTimestamp = last.timestamp
            offsetOfMaxTimestamp = last.offset
        }
        _ = try transactionIndex.load()
        isLoaded = true
    }

    private func noteTimestamp(_ header: RecordBatchHeader) {
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            offsetOfMaxTimestamp = header.lastOffset
        }
    }

    /// Validates every batch (magic, sizes, CRC, ascending offsets), truncates the file at the first bad
    /// one, and rebuilds both indexes. Returns the number of bytes truncated.
    func recover() throws(StorageError) -> Int64 {
        let file = try logFile()
        size = try file.size()
        var scanner = BatchScanner(file: file, from: 0, to: size, readAhead: 256 * 1024)
        var layout = SegmentLayout(baseOffset: baseOffset, indexIntervalBytes: indexIntervalBytes,
                                   maxOffsetEntries: offsetIndex.maxEntries, maxTimeEntries: timeIndex.maxEntries)
        scan: while true {
            switch try scanner.next(verify: true) {
            case let .batch(header, position):
                guard header.baseOffset >= layout.nextOffset else { break scan }
                layout.add(header, at: position)
            case .end, .torn, .corrupt:
                break scan
            }
        }
        let truncated = size - layout.end
        if truncated > 0 { try file.truncate(to: layout.end) }
        try adopt(layout)
        return truncated
    }

    /// Takes the bookkeeping of the file's batches as `layout` describes them (a scan's, or the cleaner's
    /// for the file it wrote): sizes, next offset, largest timestamp, both indexes (written to their files).
    func adopt(_ layout: SegmentLayout) throws(StorageError) {
        size = layout.end
        visibleSize = layout.end
        nextOffset = layout.nextOffset
        maxTimestamp = layout.maxTimestamp
        offsetOfMaxTimestamp = layout.offsetOfMaxTimestamp
        bytesSinceLastIndexEntry = layout.bytesSinceLastIndexEntry
        try offsetIndex.replace(with: layout.offsets, cache: cache)
        try timeIndex.replace(with: layout.times, cache: cache)
        _ = try transactionIndex.load()
        try transactionIndex.truncate(fromOffset: nextOffset)
        isLoaded = true
    }

    /// Updates sizes, offsets, timestamps and in-memory index entries for a batch written (or reserved) at
    /// `position`. Returns the index bytes due for the files (every `OffsetIndex.writeBehind` entries),
    /// which the caller hands to the I/O engine.
    func noteAppend(_ header: RecordBatchHeader, at position: Int64, indexIntervalBytes: Int) -> [IndexWrite] {
        noteTimestamp(header)
        var writes: [IndexWrite] = []
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            offsetIndex.append(offset: header.lastOffset, position: position)
            timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp)
            bytesSinceLastIndexEntry = 0
            if offsetIndex.isWriteBehindDue, let write = offsetIndex.takeUnpersisted() { writes.append(write) }
            if timeIndex.isWriteBehindDue, let write = timeIndex.takeUnpersisted() { writes.append(write) }
        }
        bytesSinceLastIndexEntry += header.totalSize
        nextOffset = header.lastOffset + 1
        size = position + Int64(header.totalSize)
        return writes
    }

    /// Called when the segment stops being the active one: the last time index entry records its
    /// largest timestamp exactly (retention and ListOffsets read it from there). Returns the index bytes
    /// still to write, for the I/O engine (nothing is written on the caller's thread).
    func onBecomeInactive() -> [IndexWrite] {
        if maxTimestamp >= 0 {
            timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp, skipFullCheck: true)
        }
        return [offsetIndex.takeUnpersisted(), timeIndex.takeUnpersisted()].compactMap { $0 }
    }

    /// Performs index writes on the calling thread (the cleaner's, never an event loop).
    func write(_ writes: [IndexWrite]) throws(StorageError) {
        for write in writes { try cache.handle(write.path, create: true).write([write.bytes], at: write.position) }
    }

    /// Writes index entries still held in memory now (flush, clean shutdown, compaction).
    func persistIndexes() throws(StorageError) {
        try offsetIndex.persist(cache: cache)
        try timeIndex.persist(cache: cache)
    }

    /// Removes every batch from the one containing `offset` on (and any torn bytes). Returns the bytes removed.
    func truncate(to offset: Int64) throws(StorageError) -> Int64 {
        let entry = offsetIndex.lookup(offset)
        var scanner = BatchScanner(file: try logFile(), from: entry.position, to: max(size, try logFile().size()))
        var cut = entry.position
        scan: while true {
            switch try scanner.next(verify: false) {
            case let .batch(header, position):
                if header.lastOffset >= offset {
                    cut = position
                    break scan
                }
                cut = position + Int64(header.totalSize)
            case .end, .torn, .corrupt:
                break scan
            }
        }
        return try truncate(toPosition: cut)
    }

    /// Cuts the file at `cut` (a batch boundary) and recomputes the tail state. Returns the bytes removed.
    func truncate(toPosition cut: Int64) throws(StorageError) -> Int64 {
        let removed = max(size, try logFile().size()) - cut
        directTail = nil
        sealedCache = nil
        try logFile().truncate(to: cut)
        size = cut
        visibleSize = min(visibleSize, cut)
        // Index entries at or past the cut go; then the tail state is recomputed from the last entry.
        try offsetIndex.truncate(fromPosition: cut, cache: cache)
        nextOffset = offsetIndex.lastEntry.map { $0.offset + 1 } ?? baseOffset
        try timeIndex.truncate(fromOffset: nextOffset, cache: cache)
        maxTimestamp = timeIndex.lastEntry?.timestamp ?? -1
        offsetOfMaxTimestamp = timeIndex.lastEntry?.offset ?? -1
        let start = offsetIndex.lastEntry?.position ?? 0
        var scanner = BatchScanner(file: try logFile(), from: start, to: size)
        bytesSinceLastIndexEntry = 0
        while case let .batch(header, _) = try scanner.next(verify: false) {
            nextOffset = header.lastOffset + 1
            noteTimestamp(header)
            bytesSinceLastIndexEntry += header.totalSize
        }
        try timeIndex.truncate(fromOffset: nextOffset, cache: cache)
        try transactionIndex.truncate(fromOffset: nextOffset)
        return removed
    }

    /// Renames the segment's files with `newSuffix` appended (e.g. ".deleted").
    func rename(suffix newSuffix: String) throws(StorageError) {
        directTail = nil
        sealedCache = nil
        let stem = directory + "/" + Self.fileName(baseOffset, "")
        for ext in [".log", ".index", ".timeindex", ".txnindex"] {
            let from = stem + ext + suffix
            cache.evict(from)
            if FileSystem.exists(from) { try FileSystem.rename(from, to: stem + ext + newSuffix) }
        }
        suffix = newSuffix
    }

    /// Removes the segment's files.
    func deleteFiles() {
        directTail = nil
        sealedCache = nil
        let stem = directory + "/" + Self.fileName(baseOffset, "")
        for ext in [".log", ".index", ".timeindex", ".txnindex"] {
            cache.evict(stem + ext + suffix)
            FileSystem.reclaim(stem + ext + suffix)
        }
    }

    /// fsyncs the log and index files.
    func flushAll() throws(StorageError) {
        try persistIndexes()
        try logFile().sync()
        for path in [offsetIndex.path, timeIndex.path] where FileSystem.exists(path) {
            try cache.handle(path).sync()
        }
    }

    /// The first record at or after `minOffset` whose timestamp is ≥ `target`: time index, then offset index,
    /// then a scan of batch headers, then the records of the one batch that qualifies (decompressed, bounded by
    /// `RecordScan.maxDecompressedBytes`, when compressed); LogAppendTime batches answer with their first offset.
    func firstOffset(atOrAfterTimestamp target: Int64, minOffset: Int64, limit: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        try SegmentTimestampLookup.firstOffset(atOrAfterTimestamp: target, minOffset: minOffset, limit: limit,
                                               timeIndex: timeIndex, offsetIndex: offsetIndex, source: try logFile())
    }
}

/// The timestamp lookup of one segment, local or remote: its indexes in memory, its bytes from `source`.
enum SegmentTimestampLookup {
    static func firstOffset(atOrAfterTimestamp target: Int64, minOffset: Int64, limit: Int64, timeIndex: TimeIndex,
                            offsetIndex: OffsetIndex, source: any SegmentBytes) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        let entry = timeIndex.lookup(before: target)
        let start = offsetIndex.lookup(max(entry.offset, minOffset)).position
        var scanner = BatchScanner(file: source, from: start, to: limit)
        while case let .batch(header, position) = try scanner.next(verify: false) {
            guard header.lastOffset >= minOffset, header.maxTimestamp >= target else { continue }
            if header.timestampType == .createTime, let bytes = try scanner.batchBytes(at: position, size: header.totalSize) {
                let found = header.compression == CompressionCodec.none
                    ? RecordScan.firstRecord(in: bytes, at: bytes.readerIndex, header: header, timestampAtLeast: target,
                                             offsetAtLeast: minOffset)
                    : RecordScan.firstRecordDecompressing(bytes, timestampAtLeast: target, offsetAtLeast: minOffset)
                if let found { return found }
            }
            // LogAppendTime (every record has the batch's timestamp), or records that cannot be read.
            return (max(header.baseOffset, minOffset), header.maxTimestamp)
        }
        return nil
    }
}

/// A segment file's batches in order, as the segment's bookkeeping needs them: the index entries every
/// index.interval.bytes (Kafka's rule: an entry for a batch once more than the interval was written since
/// the last one), the largest timestamp and its offset, the next offset and the end. Built by a recovery
/// scan, and by the cleaner while it writes a cleaned segment (so the swap does not read it back).
struct SegmentLayout: Sendable {
    let indexIntervalBytes: Int
    let maxOffsetEntries: Int
    let maxTimeEntries: Int
    private(set) var offsets: [OffsetIndex.Entry] = []
    private(set) var times: [TimeIndex.Entry] = []
    private(set) var maxTimestamp: Int64 = -1
    private(set) var offsetOfMaxTimestamp: Int64 = -1
    private(set) var nextOffset: Int64
    private(set) var bytesSinceLastIndexEntry = 0
    /// One past the last batch's last byte.
    private(set) var end: Int64 = 0

    init(baseOffset: Int64, indexIntervalBytes: Int, maxOffsetEntries: Int, maxTimeEntries: Int) {
        nextOffset = baseOffset
        self.indexIntervalBytes = indexIntervalBytes
        self.maxOffsetEntries = maxOffsetEntries
        self.maxTimeEntries = maxTimeEntries
    }

    /// The batch `header` lies at `position` (right after the previous one).
    mutating func add(_ header: RecordBatchHeader, at position: Int64) {
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            offsetOfMaxTimestamp = header.lastOffset
        }
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            if offsets.count < maxOffsetEntries { offsets.append(.init(offset: header.lastOffset, position: position)) }
            let lastIndexed = times.last?.timestamp ?? -1
            if times.count < maxTimeEntries && maxTimestamp > lastIndexed {
                times.append(.init(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp))
            }
            bytesSinceLastIndexEntry = 0
        }
        bytesSinceLastIndexEntry += header.totalSize
        nextOffset = header.lastOffset + 1
        end = position + Int64(header.totalSize)
    }
}
