// LogCleaner: compaction of a cleanup.policy=compact log, after Kafka's cleaner: the latest record per
// key survives in the non-active segments below the first uncleanable offset (active segment, last
// stable offset, high watermark, min.compaction.lag.ms); aborted transactional batches go; tombstones,
// and transaction markers whose transaction has no data left, get a delete horizon (now +
// delete.retention.ms) when first cleaned and go in the first cleaning after it. Adjacent segments are
// grouped up to segment.bytes and each group is written as one `.cleaned` file, renamed `.swap`, and
// swapped in under the lock (the originals become `.deleted`, so open reads stay valid). Heavy work
// happens outside the partition lock on immutable, non-active segments. Compressed batches are cleaned
// like Kafka's cleaner does: decompressed, filtered record by record, and compressed again with their
// own codec when anything was removed (kept byte for byte otherwise).
import Foundation
import KafkaRecords
import NIOCore

/// What one compaction did.
public struct CompactionStats: Sendable, Equatable {
    /// Source segments replaced by cleaned ones.
    public var segmentsCleaned: Int
    /// Bytes of the source segments.
    public var bytesBefore: Int64
    /// Bytes of the cleaned segments.
    public var bytesAfter: Int64
    /// Records dropped (superseded keys, expired tombstones, aborted data).
    public var recordsRemoved: Int
    /// Segments the cleaned groups became (fewer than `segmentsCleaned` when small segments were merged).
    public var segmentsAfter: Int
}

/// Sendable snapshot of what the cleaner needs, taken under the lock.
struct CleanerInput: Sendable {
    struct Source: Sendable {
        var identity: ObjectIdentifier
        var baseOffset: Int64
        var file: LogFileHandle
        var size: Int64
        var aborted: [AbortedTransaction]
    }
    var sources: [Source]
    /// Runs of adjacent sources (indexes into `sources`) written as one segment each.
    var groups: [Range<Int>]
    var firstDirtyOffset: Int64
    var cleanableEnd: Int64
    var aborted: [AbortedTransaction]
    var nowMs: Int64
    var deleteRetentionMs: Int64
    /// Producer id → last offset of its last data batch (whose header compaction keeps).
    var lastBatchOffsets: [Int64: Int64]
    var directory: String
    var truncations: Int
    /// The log dir writes segment data with O_DIRECT (`log.io.mode`): so does the cleaner.
    var directIO: Bool
    /// index.interval.bytes and segment.index.bytes: the cleaned segments' indexes follow them.
    var indexIntervalBytes: Int
    var segmentIndexBytes: Int
}

/// What writing the cleaned groups produced.
struct CleanerOutput {
    var bytesAfter: Int64 = 0
    var recordsRemoved = 0
    /// The earliest delete horizon still waiting in the cleaned segments (a later pass removes what it guards).
    var nextDeleteHorizonMs: Int64?
    /// Per group, the layout of the cleaned file as written (its indexes come from here, not from a re-read).
    var layouts: [SegmentLayout] = []
}

enum LogCleaner {
    /// Bytes the cleaner reads from a source segment at a time (one read in flight, no kernel readahead).
    static let scanReadBytes = 1 << 20
    /// Key → offset of its latest record in [firstDirtyOffset, cleanableEnd).
    static func buildOffsetMap(_ input: CleanerInput) throws(StorageError) -> [[UInt8]: Int64] {
        var map: [[UInt8]: Int64] = [:]
        for source in input.sources {
            try forEachBatch(source) { header, bytes, start in
                guard header.lastOffset >= input.firstDirtyOffset, !header.isControl, !isAborted(header, input.aborted),
                      let plain = plainBatch(header, bytes, start),
                      let records = CompactionFilter.records(in: plain.bytes, at: plain.start, header: plain.header) else { return }
                for record in records where record.offset >= input.firstDirtyOffset {
                    if let key = record.key { map[key] = record.offset }
                }
            }
        }
        return map
    }

    static func isAborted(_ header: RecordBatchHeader, _ aborted: [AbortedTransaction]) -> Bool {
        header.isTransactional && !header.isControl && aborted.contains {
            $0.producerId == header.producerId && $0.firstOffset <= header.baseOffset && header.baseOffset < $0.lastOffset
        }
    }

    /// A batch in uncompressed form for the record-level code: itself when uncompressed; a compressed
    /// one decompressed behind a copy of its header with the codec bits cleared and the length fixed
    /// (its CRC is stale; `recompressed` writes a fresh one). nil when it cannot be decompressed — the
    /// cleaner then keeps it whole and leaves its keys out of the offset map.
    static func plainBatch(_ header: RecordBatchHeader, _ bytes: ByteBuffer, _ start: Int)
        -> (bytes: ByteBuffer, start: Int, header: RecordBatchHeader)? {
        guard let codec = header.compression else { return nil }
        guard codec != .none else { return (bytes, start, header) }
        let headerSize = RecordBatchLayout.headerSize
        guard let section = bytes.getSlice(at: start + headerSize, length: header.totalSize - headerSize),
              var records = try? RecordCompression.decompress(section, codec: codec,
                                                               maxOutputBytes: RecordBatch.defaultMaxDecompressedBytes)
        else { return nil }
        var out = ByteBufferAllocator().buffer(capacity: headerSize + records.readableBytes)
        out.writeBytes(bytes.viewBytes(at: start, length: headerSize) ?? ByteBufferView())
        out.writeBuffer(&records)
        out.setInteger(header.attributes & ~0x07, at: RecordBatchLayout.attributes)
        out.setInteger(Int32(out.readableBytes - RecordBatchLayout.logOverhead), at: RecordBatchLayout.batchLength)
        guard let plainHeader = RecordBatchHeader(from: out, at: out.readerIndex) else { return nil }
        return (out, out.readerIndex, plainHeader)
    }

    /// `batch` (uncompressed, as `CompactionFilter.rebuild` returns it) with its records section
    /// compressed by `codec`: codec bits, length and CRC rewritten; nil if the codec fails.
    static func recompressed(_ batch: ByteBuffer, codec: CompressionCodec) -> ByteBuffer? {
        let headerSize = RecordBatchLayout.headerSize
        guard codec != .none else { return batch }
        guard let header = RecordBatchHeader(from: batch, at: batch.readerIndex),
              let section = batch.getSlice(at: batch.readerIndex + headerSize, length: batch.readableBytes - headerSize)
        else { return nil }
        var out = ByteBufferAllocator().buffer(capacity: headerSize + section.readableBytes / 2 + 64)
        out.writeBytes(batch.viewBytes(at: batch.readerIndex, length: headerSize) ?? ByteBufferView())
        do { try RecordCompression.compress(section, codec: codec, into: &out) } catch { return nil }
        out.setInteger((header.attributes & ~0x07) | codec.rawValue, at: RecordBatchLayout.attributes)
        out.setInteger(Int32(out.readableBytes - RecordBatchLayout.logOverhead), at: RecordBatchLayout.batchLength)
        RecordBatchRewriter.updateCRC(in: &out, at: out.readerIndex, totalSize: out.readableBytes)
        return out
    }

    /// Calls `body` with every batch of `source`, read through a descriptor of its own (no kernel readahead),
    /// opened when the source's turn comes (one at a time). With `dropBehind` (the last pass: the source is
    /// replaced afterwards) the pages read are dropped from the page cache as the scan moves on, so that the
    /// source's deletion has no gigabyte of cached pages to free at once.
    static func forEachBatch(_ source: CleanerInput.Source, dropBehind: Bool = false,
                             _ body: (RecordBatchHeader, ByteBuffer, Int) throws(StorageError) -> Void) throws(StorageError) {
        let file = source.file.reopenedForScan() ?? source.file
        var scanner = BatchScanner(file: file, from: 0, to: source.size, readAhead: scanReadBytes)
        var dropped: Int64 = 0
        while case let .batch(header, position) = try scanner.next(verify: false) {
            guard let bytes = try scanner.batchBytes(at: position, size: header.totalSize) else { return }
            IOThrottle.cleaner.charge(header.totalSize)
            try body(header, bytes, bytes.readerIndex)
            if dropBehind && position - dropped >= Int64(scanReadBytes) * 8 {
                file.dropCache(from: dropped, to: position)
                dropped = position
            }
        }
        if dropBehind { file.dropCache(from: dropped, to: source.size) }
    }

    /// Writes `<first base>.log.cleaned` for every group of sources.
    static func writeCleaned(_ input: CleanerInput, map: [[UInt8]: Int64]) throws(StorageError) -> CleanerOutput {
        var output = CleanerOutput()
        var retainsData: [Int64: Bool] = [:]
        for group in input.groups {
            let path = input.directory + "/" + LogSegment.fileName(input.sources[group.lowerBound].baseOffset, ".log.cleaned")
            // Direct on a direct log dir: the cleaned file must not tie the producers' fsyncs to its writeback.
            let bound = group.reduce(Int64(0)) { $0 + input.sources[$1].size }
            var out = try SequentialFileWriter(path: path, direct: input.directIO, expectedBytes: bound)
            var layout = SegmentLayout(baseOffset: input.sources[group.lowerBound].baseOffset,
                                       indexIntervalBytes: input.indexIntervalBytes,
                                       maxOffsetEntries: max(input.segmentIndexBytes / OffsetIndex.entrySize, 1),
                                       maxTimeEntries: max(input.segmentIndexBytes / TimeIndex.entrySize, 1))
            for source in group.map({ input.sources[$0] }) {
                try forEachBatch(source, dropBehind: true) { header, bytes, start throws(StorageError) in
                    let keep = filter(header, bytes, start, input: input, map: map, retainsData: &retainsData, output: &output)
                    guard let keep else { return }
                    // A rebuilt batch has its own header (fewer records, a delete horizon).
                    layout.add(RecordBatchHeader(from: keep, at: keep.readerIndex) ?? header, at: out.position)
                    try out.append(keep)
                    IOThrottle.cleaner.charge(keep.readableBytes)
                }
            }
            output.bytesAfter += try out.finish()
            output.layouts.append(layout)
        }
        return output
    }

    /// What is left of one batch after cleaning (nil: nothing). `retainsData` tracks, per producer id,
    /// whether its current transaction still has records in the log (its marker must stay until not).
    private static func filter(_ header: RecordBatchHeader, _ bytes: ByteBuffer, _ start: Int, input: CleanerInput,
                               map: [[UInt8]: Int64], retainsData: inout [Int64: Bool], output: inout CleanerOutput) -> ByteBuffer? {
        let whole = bytes.getSlice(at: start, length: header.totalSize)
        let horizonPassed = header.hasDeleteHorizon && header.baseTimestamp <= input.nowMs
        func noteHorizon(_ horizon: Int64) {
            output.nextDeleteHorizonMs = min(output.nextDeleteHorizonMs ?? horizon, horizon)
        }
        if isAborted(header, input.aborted) {
            output.recordsRemoved += Int(header.recordsCount)
            return nil
        }
        if header.isControl {
            // A marker goes once its transaction has no data left and its delete horizon has passed.
            let hasData = retainsData.removeValue(forKey: header.producerId) ?? false
            guard !hasData, header.hasProducerId else { return whole }
            if horizonPassed { return nil }
            if header.hasDeleteHorizon {
                noteHorizon(header.baseTimestamp)
                return whole
            }
            guard let records = CompactionFilter.records(in: bytes, at: start, header: header) else { return whole }
            let horizon = input.nowMs &+ input.deleteRetentionMs
            noteHorizon(horizon)
            return CompactionFilter.rebuild(bytes, at: start, header: header, keeping: records, deleteHorizonMs: horizon)
        }
        guard let plain = plainBatch(header, bytes, start),
              let records = CompactionFilter.records(in: plain.bytes, at: plain.start, header: plain.header) else {
            if header.isTransactional { retainsData[header.producerId] = true }
            return whole
        }
        let kept = records.filter { record in
            guard let key = record.key else { return true }
            if let latest = map[key], latest > record.offset { return false }
            return !(record.isTombstone && horizonPassed)
        }
        // An emptied batch goes, unless it is its producer's last: that one stays (header only) so the
        // producer's sequence survives a rebuild of producer state from the log.
        if kept.isEmpty && !(header.hasProducerId && input.lastBatchOffsets[header.producerId] == header.lastOffset) {
            output.recordsRemoved += records.count
            return nil
        }
        if header.isTransactional { retainsData[header.producerId] = true }
        // A batch keeping tombstones gets a delete horizon the first time it is cleaned.
        let stampHorizon = !header.hasDeleteHorizon && kept.contains(where: \.isTombstone)
        if header.hasDeleteHorizon && kept.contains(where: \.isTombstone) { noteHorizon(header.baseTimestamp) }
        guard kept.count != records.count || stampHorizon else { return whole }
        let horizon = stampHorizon ? input.nowMs &+ input.deleteRetentionMs : nil
        let rebuilt = CompactionFilter.rebuild(plain.bytes, at: plain.start, header: plain.header, keeping: kept,
                                               deleteHorizonMs: horizon)
        // A compressed batch is written back with its own codec, as Kafka's cleaner does; if the codec
        // fails, the batch stays as it was (nothing removed, no horizon).
        guard let codec = header.compression, let cleaned = recompressed(rebuilt, codec: codec) else { return whole }
        if let horizon { noteHorizon(horizon) }
        output.recordsRemoved += records.count - kept.count
        return cleaned
    }
}

extension LogCleaner {
    /// The cleaner's input, or nil when nothing is cleanable or the dirty ratio is below the threshold.
    static func input(of s: PartitionLogState, nowMs: Int64, force: Bool) throws(StorageError) -> CleanerInput? {
        guard s.local.segments.count > 1 else { return nil }
        var cleanableEnd = min(s.local.activeSegment.baseOffset, s.lastStableOffset, s.highWatermark)
        var chosen: [(LogSegment, Int64)] = []
        for (index, segment) in s.local.segments.enumerated().dropLast() {
            let end = s.local.segments[index + 1].baseOffset
            try segment.load()
            if segment.maxTimestamp > nowMs - s.config.minCompactionLagMs { cleanableEnd = min(cleanableEnd, segment.baseOffset) }
            guard end <= cleanableEnd else { break }
            chosen.append((segment, end))
        }
        guard !chosen.isEmpty else { return nil }
        let firstDirty = max(s.firstDirtyOffset ?? s.logStartOffset, chosen[0].0.baseOffset)
        let endOffset = chosen[chosen.count - 1].1
        let clean = chosen.filter { $0.1 <= firstDirty }.reduce(Int64(0)) { $0 + $1.0.size }
        let dirty = chosen.filter { $0.1 > firstDirty }.reduce(Int64(0)) { $0 + $1.0.size }
        // A delete horizon that has passed makes the log cleanable even without new dirty data.
        let horizonDue = s.deleteHorizonDueMs.map { $0 <= nowMs } ?? false
        guard dirty > 0 || horizonDue else { return nil }
        guard force || horizonDue || Double(dirty) / Double(clean + dirty) >= s.config.minCleanableDirtyRatio else { return nil }
        var sources: [CleanerInput.Source] = []
        var aborted: [AbortedTransaction] = []
        for (segment, _) in chosen {
            sources.append(.init(identity: ObjectIdentifier(segment), baseOffset: segment.baseOffset, file: try segment.logFile(),
                                 size: segment.size, aborted: segment.transactionIndex.entries))
        }
        for segment in s.local.segments { aborted.append(contentsOf: segment.transactionIndex.entries) }
        return CleanerInput(sources: sources, groups: Self.groupBySize(chosen, segmentBytes: s.config.segmentBytes),
                            firstDirtyOffset: firstDirty, cleanableEnd: endOffset, aborted: aborted,
                            nowMs: nowMs, deleteRetentionMs: s.config.deleteRetentionMs,
                            lastBatchOffsets: s.producers.producers.mapValues(\.lastOffset), directory: s.local.directory,
                            truncations: s.local.truncations, directIO: s.local.directIO,
                            indexIntervalBytes: s.config.indexIntervalBytes, segmentIndexBytes: s.config.segmentIndexBytes)
    }

    /// Kafka's grouping: adjacent segments while their total size stays within segment.bytes and their
    /// offsets fit one segment's 32-bit relative offsets.
    static func groupBySize(_ chosen: [(LogSegment, Int64)], segmentBytes: Int) -> [Range<Int>] {
        var groups: [Range<Int>] = []
        var start = 0
        var bytes: Int64 = 0
        for (index, (segment, end)) in chosen.enumerated() {
            let fits = bytes + segment.size <= Int64(segmentBytes) && end - 1 - chosen[start].0.baseOffset <= Int64(Int32.max)
            if index > start && !fits {
                groups.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += segment.size
        }
        groups.append(start..<chosen.count)
        return groups
    }

    /// Swaps each cleaned group in for its sources, when they are all still present. Returns how many
    /// source segments were replaced.
    static func swapCleaned(_ input: CleanerInput, output: CleanerOutput, into s: PartitionLogState, nowMs: Int64) throws(StorageError) -> Int {
        var swapped = 0
        for (groupIndex, group) in input.groups.enumerated() {
            let first = input.sources[group.lowerBound]
            let cleaned = input.directory + "/" + LogSegment.fileName(first.baseOffset, ".log.cleaned")
            let indices = group.map { i in s.local.segments.firstIndex { ObjectIdentifier($0) == input.sources[i].identity } }
            guard input.truncations == s.local.truncations, let low = indices.first ?? nil, !indices.contains(where: { $0 == nil }),
                  indices.compactMap({ $0 }) == Array(low..<(low + group.count)), low + group.count < s.local.segments.count else {
                FileSystem.reclaim(cleaned)
                continue
            }
            let live = input.directory + "/" + LogSegment.fileName(first.baseOffset, ".log")
            try FileSystem.rename(cleaned, to: live + ".swap")
            FileSystem.syncDirectory(input.directory)
            for old in s.local.segments[low..<(low + group.count)] {
                try old.rename(suffix: ".deleted")
                s.local.doomed.append((old, nowMs + s.config.fileDeleteDelayMs))
            }
            try FileSystem.rename(live + ".swap", to: live)
            FileSystem.syncDirectory(input.directory)
            let fresh = try LogSegment.open(directory: input.directory, baseOffset: first.baseOffset, config: s.config, cache: s.local.cache, now: nowMs)
            // The cleaner wrote (and synced) this file: its layout is known, no need to read it back
            // (unless the file does not end where the layout says: then a scan decides).
            if fresh.size == output.layouts[groupIndex].end {
                try fresh.adopt(output.layouts[groupIndex])
            } else {
                _ = try fresh.recover()
            }
            try fresh.transactionIndex.replace(with: group.flatMap { input.sources[$0].aborted }, cache: s.local.cache)
            // The cleaner runs on the scheduler thread: the index files are written here.
            try fresh.write(fresh.onBecomeInactive())
            s.local.segments.replaceSubrange(low..<(low + group.count), with: [fresh])
            swapped += group.count
        }
        if input.truncations == s.local.truncations {
            s.firstDirtyOffset = input.cleanableEnd
            s.deleteHorizonDueMs = output.nextDeleteHorizonMs
        }
        return swapped
    }
}
