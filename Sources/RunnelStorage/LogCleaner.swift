// LogCleaner: compaction of a cleanup.policy=compact log, after Kafka's cleaner: the latest record per
// key survives in the non-active segments below the first uncleanable offset (active segment, last
// stable offset, high watermark, min.compaction.lag.ms); tombstones go after delete.retention.ms;
// aborted transactional batches go; markers stay. Cleaned segments are written beside the originals as
// `.cleaned`, renamed `.swap`, and swapped in under the lock (the originals become `.deleted`, so open
// reads stay valid). Heavy work happens outside the partition lock on immutable, non-active segments.
import Foundation
import KafkaRecords
import NIOCore

/// What one compaction did.
public struct CompactionStats: Sendable, Equatable {
    public var segmentsCleaned: Int
    public var bytesBefore: Int64
    public var bytesAfter: Int64
    public var recordsRemoved: Int
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
    var firstDirtyOffset: Int64
    var cleanableEnd: Int64
    var aborted: [AbortedTransaction]
    var deleteHorizonMs: Int64
    var directory: String
    var truncations: Int
}

extension PartitionLogState {
    /// The cleaner's input, or nil when nothing is cleanable or the dirty ratio is below the threshold.
    func cleanerInput(nowMs: Int64, force: Bool) throws(StorageError) -> CleanerInput? {
        guard segments.count > 1 else { return nil }
        var cleanableEnd = min(activeSegment.baseOffset, lastStableOffset, highWatermark)
        var chosen: [(LogSegment, Int64)] = []
        for (index, segment) in segments.enumerated().dropLast() {
            let end = segments[index + 1].baseOffset
            try segment.load()
            if segment.maxTimestamp > nowMs - config.minCompactionLagMs { cleanableEnd = min(cleanableEnd, segment.baseOffset) }
            guard end <= cleanableEnd else { break }
            chosen.append((segment, end))
        }
        guard !chosen.isEmpty else { return nil }
        let firstDirty = max(firstDirtyOffset ?? logStartOffset, chosen[0].0.baseOffset)
        let endOffset = chosen[chosen.count - 1].1
        let clean = chosen.filter { $0.1 <= firstDirty }.reduce(Int64(0)) { $0 + $1.0.size }
        let dirty = chosen.filter { $0.1 > firstDirty }.reduce(Int64(0)) { $0 + $1.0.size }
        guard dirty > 0 else { return nil }
        guard force || Double(dirty) / Double(clean + dirty) >= config.minCleanableDirtyRatio else { return nil }
        var sources: [CleanerInput.Source] = []
        var aborted: [AbortedTransaction] = []
        for (segment, _) in chosen {
            sources.append(.init(identity: ObjectIdentifier(segment), baseOffset: segment.baseOffset, file: try segment.logFile(),
                                 size: segment.size, aborted: segment.transactionIndex.entries))
        }
        for segment in segments { aborted.append(contentsOf: segment.transactionIndex.entries) }
        return CleanerInput(sources: sources, firstDirtyOffset: firstDirty, cleanableEnd: endOffset, aborted: aborted,
                            deleteHorizonMs: nowMs - config.deleteRetentionMs, directory: directory, truncations: truncations)
    }

    /// Swaps the cleaned files in for the sources still present. Returns how many were swapped.
    func swapCleaned(_ input: CleanerInput, nowMs: Int64) throws(StorageError) -> Int {
        var swapped = 0
        guard input.truncations == truncations else {
            for source in input.sources { FileSystem.unlink(input.directory + "/" + LogSegment.fileName(source.baseOffset, ".log.cleaned")) }
            return 0
        }
        for source in input.sources {
            let cleaned = input.directory + "/" + LogSegment.fileName(source.baseOffset, ".log.cleaned")
            guard let index = segments.firstIndex(where: { ObjectIdentifier($0) == source.identity }), segments[index] !== activeSegment else {
                FileSystem.unlink(cleaned)
                continue
            }
            let old = segments[index]
            let live = input.directory + "/" + LogSegment.fileName(source.baseOffset, ".log")
            try FileSystem.rename(cleaned, to: live + ".swap")
            FileSystem.syncDirectory(input.directory)
            try old.rename(suffix: ".deleted")
            doomed.append((old, nowMs + config.fileDeleteDelayMs))
            try FileSystem.rename(live + ".swap", to: live)
            FileSystem.syncDirectory(input.directory)
            let fresh = try LogSegment.open(directory: input.directory, baseOffset: source.baseOffset, config: config, cache: cache, now: nowMs)
            _ = try fresh.recover()
            try fresh.transactionIndex.replace(with: source.aborted, cache: cache)
            try fresh.onBecomeInactive()
            segments[index] = fresh
            swapped += 1
        }
        firstDirtyOffset = input.cleanableEnd
        return swapped
    }
}

enum LogCleaner {
    /// Key → offset of its latest record in [firstDirtyOffset, cleanableEnd).
    static func buildOffsetMap(_ input: CleanerInput) throws(StorageError) -> [[UInt8]: Int64] {
        var map: [[UInt8]: Int64] = [:]
        for source in input.sources {
            try forEachBatch(source) { header, bytes, start in
                guard header.lastOffset >= input.firstDirtyOffset, !header.isControl, header.compression == CompressionCodec.none,
                      !isAborted(header, input.aborted), let records = CompactionFilter.records(in: bytes, at: start, header: header) else { return }
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

    static func forEachBatch(_ source: CleanerInput.Source,
                             _ body: (RecordBatchHeader, ByteBuffer, Int) throws(StorageError) -> Void) throws(StorageError) {
        var scanner = BatchScanner(file: source.file, from: 0, to: source.size, readAhead: 256 * 1024)
        while case let .batch(header, position) = try scanner.next(verify: false) {
            guard let bytes = try scanner.batchBytes(at: position, size: header.totalSize) else { return }
            try body(header, bytes, bytes.readerIndex)
        }
    }

    /// Writes `<base>.log.cleaned` for every source; returns (bytes after, records removed).
    static func writeCleaned(_ input: CleanerInput, map: [[UInt8]: Int64]) throws(StorageError) -> (Int64, Int) {
        var bytesAfter: Int64 = 0
        var removed = 0
        for source in input.sources {
            let path = input.directory + "/" + LogSegment.fileName(source.baseOffset, ".log.cleaned")
            let out = try LogFileHandle.open(path, create: true)
            try out.truncate(to: 0)
            var position: Int64 = 0
            try forEachBatch(source) { header, bytes, start throws(StorageError) in
                var keep: ByteBuffer? = bytes.getSlice(at: start, length: header.totalSize)
                if isAborted(header, input.aborted) {
                    removed += Int(header.recordsCount)
                    keep = nil
                } else if !header.isControl, header.compression == CompressionCodec.none,
                          let records = CompactionFilter.records(in: bytes, at: start, header: header) {
                    let kept = records.filter { record in
                        guard let key = record.key else { return true }
                        if let latest = map[key], latest > record.offset { return false }
                        return !(record.isTombstone && record.timestamp < input.deleteHorizonMs)
                    }
                    removed += records.count - kept.count
                    if kept.isEmpty && !header.hasProducerId {
                        keep = nil
                    } else if kept.count != records.count {
                        // An emptied batch of an idempotent producer stays (header only) to keep its sequence.
                        keep = CompactionFilter.rebuild(bytes, at: start, header: header, keeping: kept)
                    }
                }
                if let keep {
                    try out.write([keep], at: position)
                    position += Int64(keep.readableBytes)
                }
            }
            try out.sync()
            bytesAfter += position
        }
        return (bytesAfter, removed)
    }
}

extension PartitionLog {
    /// Compacts when cleanup.policy includes compact and the dirty ratio reaches min.cleanable.dirty.ratio
    /// (always with `force`). Returns nil when there was nothing to do.
    @discardableResult
    public func compactIfDirty(force: Bool = false) throws(StorageError) -> CompactionStats? {
        let now = clock()
        guard let input = try state.withLock({ s throws(StorageError) -> CleanerInput? in
            guard s.config.cleanupPolicy.contains(.compact), s.offlineReason == nil else { return nil }
            return try s.cleanerInput(nowMs: now, force: force)
        }) else { return nil }
        let map = try LogCleaner.buildOffsetMap(input)
        let (bytesAfter, removed) = try LogCleaner.writeCleaned(input, map: map)
        let swapped = try state.withLock { s throws(StorageError) in try s.swapCleaned(input, nowMs: now) }
        logger.info("compacted", metadata: ["partition": "\(topic)-\(partition)", "segments": "\(swapped)",
                                            "recordsRemoved": "\(removed)"])
        return CompactionStats(segmentsCleaned: swapped, bytesBefore: input.sources.reduce(0) { $0 + $1.size },
                               bytesAfter: bytesAfter, recordsRemoved: removed)
    }
}
