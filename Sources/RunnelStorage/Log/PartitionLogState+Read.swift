// PartitionLogState+Read: reads as file slices (Kafka's one-segment-per-read rule, cut at max bytes,
// at least one whole batch when asked), aborted transactions for read_committed, ListOffsets lookups.
import KafkaRecords
import NIOCore

extension PartitionLogState {
    func read(from offset: Int64, maxBytes: Int, isolation: FetchIsolation, minOneBatch: Bool) throws(StorageError) -> LogReadResult {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        guard offset >= logStartOffset, offset <= logEndOffset else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: logStartOffset, logEndOffset: logEndOffset)
        }
        let upper: Int64 = switch isolation {
        case .logEnd: logEndOffset
        case .highWatermark: highWatermark
        case .transactionCommitted: lastStableOffset
        }
        var result = LogReadResult(slices: [], fetchOffset: offset, firstBatchOffset: nil, highWatermark: highWatermark,
                                   lastStableOffset: lastStableOffset, logStartOffset: logStartOffset,
                                   logEndOffset: logEndOffset,
                                   abortedTransactions: isolation == .transactionCommitted ? [] : nil)
        guard offset < upper, var index = segmentIndex(for: offset) else { return result }
        while index < segments.count {
            let segment = segments[index]
            try segment.load()
            let limit = segment.visibleSize
            if let (position, header) = try segment.translate(offset, limit: limit), header.baseOffset < upper {
                var maxPosition = limit
                if upper < segment.nextOffset, let bound = try segment.translate(upper, limit: limit) {
                    maxPosition = bound.position
                }
                let available = Int(maxPosition - position)
                var length = min(max(maxBytes, 0), available)
                if minOneBatch && length < header.totalSize { length = min(header.totalSize, available) }
                if length > 0 {
                    result.slices = [FileSlice(file: try segment.logFile(), position: position, length: length)]
                    result.firstBatchOffset = header.baseOffset
                }
                if isolation == .transactionCommitted {
                    result.abortedTransactions = abortedTransactions(from: offset, to: upper, startingAt: index)
                }
                return result
            }
            index += 1
        }
        return result
    }

    /// Aborted transactions with records in [from, to), from the segment at `startingAt` on.
    func abortedTransactions(from: Int64, to: Int64, startingAt: Int) -> [AbortedTransaction] {
        var found: [AbortedTransaction] = []
        for segment in segments[startingAt...] {
            found.append(contentsOf: segment.transactionIndex.overlapping(from: from, to: to))
            if segment.baseOffset >= to { break }
        }
        return found
    }

    /// The leader epoch of the batch holding `offset`, from the epoch cache.
    func epoch(at offset: Int64) -> Int32? {
        epochs.entries.last(where: { $0.startOffset <= offset })?.epoch
    }

    func offset(for spec: ListOffsetsSpec) throws(StorageError) -> TimestampOffset? {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        switch spec {
        case .earliest:
            return TimestampOffset(timestamp: -1, offset: logStartOffset, leaderEpoch: epoch(at: logStartOffset))
        case .latest:
            return TimestampOffset(timestamp: -1, offset: logEndOffset, leaderEpoch: epochs.latestEpoch)
        case .maxTimestamp:
            var best: LogSegment?
            for segment in segments {
                try segment.load()
                if segment.maxTimestamp >= 0 && segment.maxTimestamp >= (best?.maxTimestamp ?? -1) && segment.nextOffset > logStartOffset {
                    best = segment
                }
            }
            guard let best else { return nil }
            return try best.firstOffset(atOrAfterTimestamp: best.maxTimestamp, minOffset: logStartOffset, limit: best.visibleSize)
                .map { TimestampOffset(timestamp: $0.timestamp, offset: $0.offset, leaderEpoch: epoch(at: $0.offset)) }
        case let .timestamp(target):
            let first = segmentIndex(for: logStartOffset) ?? 0
            for segment in segments[first...] {
                try segment.load()
                guard segment.maxTimestamp >= target else { continue }
                if let found = try segment.firstOffset(atOrAfterTimestamp: target, minOffset: logStartOffset, limit: segment.visibleSize) {
                    return TimestampOffset(timestamp: found.timestamp, offset: found.offset, leaderEpoch: epoch(at: found.offset))
                }
            }
            return nil
        }
    }
}

extension LogSegment {
    /// The first record at or after `minOffset` whose timestamp is ≥ `target`: time index, then offset index,
    /// then a scan of batch headers, then the records of the one batch that qualifies (decompressed, bounded by
    /// `RecordScan.maxDecompressedBytes`, when compressed); LogAppendTime batches answer with their first offset.
    func firstOffset(atOrAfterTimestamp target: Int64, minOffset: Int64, limit: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        let entry = timeIndex.lookup(before: target)
        let start = offsetIndex.lookup(max(entry.offset, minOffset)).position
        var scanner = BatchScanner(file: try logFile(), from: start, to: limit)
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
