// BatchScanner: walks the record batches of a segment file through a read-ahead window, reading
// headers only, or whole batches when it must verify their CRC (recovery).
import KafkaRecords
import NIOCore

/// What the scanner found at its position.
enum ScanStep {
    /// A batch starting at `position`.
    case batch(RecordBatchHeader, position: Int64)
    /// The end of the scanned range.
    case end
    /// An incomplete batch (a torn write) at `position`.
    case torn(position: Int64)
    /// A batch that fails validation at `position`.
    case corrupt(position: Int64, reason: String)
}

struct BatchScanner {
    let file: any SegmentBytes
    private(set) var position: Int64
    let end: Int64
    private var window: ByteBuffer
    private var windowStart: Int64 = 0
    /// Bytes read at a time: small for lookups (a scan spans about index.interval.bytes), larger for
    /// recovery and compaction, which read whole segments.
    private let readAhead: Int

    /// Cached bytes of the range (the direct tail's buffers), read instead of the file where they hold it.
    private let cached: TailCacheView?

    init(file: any SegmentBytes, from position: Int64, to end: Int64, readAhead: Int = 16 * 1024, cached: TailCacheView? = nil) {
        self.file = file
        self.cached = cached
        self.position = position
        self.end = end
        self.readAhead = readAhead
        window = ByteBuffer()
    }

    /// Makes [at, at + length) available in the window; false at end of range.
    private mutating func ensure(_ at: Int64, _ length: Int) throws(StorageError) -> Bool {
        guard at + Int64(length) <= end else { return false }
        if at >= windowStart && at + Int64(length) <= windowStart + Int64(window.readableBytes) { return true }
        let want = Int(min(Int64(max(length, readAhead)), end - at))
        if let bytes = cached?.window(at: at, atLeast: length, atMost: want) {
            window = bytes
        } else {
            window = try file.read(at: at, length: want)
        }
        windowStart = at
        return window.readableBytes >= length
    }

    /// The header at `at` without validation (nil past the end).
    mutating func header(at: Int64) throws(StorageError) -> RecordBatchHeader? {
        guard try ensure(at, RecordBatchLayout.headerSize) else { return nil }
        return RecordBatchHeader(from: window, at: window.readerIndex + Int(at - windowStart))
    }

    /// Advances over one batch. With `verify`, reads the whole batch and checks magic, sizes and CRC.
    mutating func next(verify: Bool) throws(StorageError) -> ScanStep {
        if position >= end { return .end }
        guard try ensure(position, RecordBatchLayout.headerSize),
              let header = RecordBatchHeader(from: window, at: window.readerIndex + Int(position - windowStart))
        else { return .torn(position: position) }
        guard header.magic == 2 else { return .corrupt(position: position, reason: "magic \(header.magic)") }
        guard header.totalSize >= RecordBatchLayout.headerSize, header.lastOffsetDelta >= 0 else {
            return .corrupt(position: position, reason: "batch length \(header.batchLength)")
        }
        guard position + Int64(header.totalSize) <= end else { return .torn(position: position) }
        if verify {
            guard try ensure(position, header.totalSize) else { return .torn(position: position) }
            let start = window.readerIndex + Int(position - windowStart)
            let crc = CRC32C.checksum(of: window, at: start + RecordBatchLayout.attributes,
                                      length: header.totalSize - RecordBatchLayout.attributes)
            guard crc == header.crc else {
                return .corrupt(position: position, reason: "CRC mismatch at offset \(header.baseOffset)")
            }
        }
        let found = position
        position += Int64(header.totalSize)
        return .batch(header, position: found)
    }

    /// The bytes of the batch at `at` (whole batch), for record-level scans.
    mutating func batchBytes(at: Int64, size: Int) throws(StorageError) -> ByteBuffer? {
        guard try ensure(at, size) else { return nil }
        return window.getSlice(at: window.readerIndex + Int(at - windowStart), length: size)
    }
}
