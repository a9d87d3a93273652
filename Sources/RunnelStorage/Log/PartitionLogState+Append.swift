// PartitionLogState+Append: planning an append under the partition lock — batch checks, producer
// validation, offset assignment, rolling, header patching into small buffers (the records themselves
// are never copied) — and delivering write completions in log order.
import KafkaRecords
import NIOCore

/// What `planAppend` decided.
enum AppendPlan {
    case fail(StorageError)
    case duplicate(AppendResult)
    case write(file: LogFileHandle, position: Int64, chunks: [ByteBuffer], sync: Bool, token: UInt64)
}

extension PartitionLogState {
    /// Plans an append; when an I/O step fails half way, the partial state is rolled back (now, or once the
    /// appends already in flight have finished) and the error is returned.
    func planAppend(records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin, nowMs: Int64,
                    completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) -> AppendPlan {
        let segment = activeSegment
        let position = segment.size
        do throws(StorageError) {
            return try planAppendSteps(records: records, leaderEpoch: leaderEpoch, origin: origin, nowMs: nowMs, completion: completion)
        } catch {
            if failure == nil {
                failure = (nextToken + 1, nextOffset, segment, position)
                if pending.isEmpty { rollBack(segment: segment, position: position) }
            }
            return .fail(error)
        }
    }

    private func planAppendSteps(records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin, nowMs: Int64,
                                 completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) throws(StorageError) -> AppendPlan {
        if let offlineReason { return .fail(.partitionOffline(offlineReason)) }
        if failure != nil { return .fail(.partitionOffline("a previous write failed; the log is being rolled back")) }
        // 1. Find the batches (headers only).
        var batches: [(index: Int, header: RecordBatchHeader)] = []
        var index = records.readerIndex
        var totalBytes = 0
        while index < records.writerIndex {
            guard let header = RecordBatchHeader(from: records, at: index) else {
                return .fail(.corruptMessage("truncated batch header at byte \(index - records.readerIndex)"))
            }
            guard header.magic == 2 else { return .fail(.corruptMessage("unsupported magic \(header.magic)")) }
            guard header.totalSize >= RecordBatchLayout.headerSize, header.lastOffsetDelta >= 0,
                  header.totalSize <= records.writerIndex - index else {
                return .fail(.corruptMessage("batch length \(header.batchLength) does not match the bytes received"))
            }
            if origin == .client && header.isControl {
                return .fail(.invalidRecord("clients may not write control batches"))
            }
            if origin != .replication && header.totalSize > config.maxMessageBytes {
                return .fail(.messageTooLarge(size: header.totalSize, limit: config.maxMessageBytes))
            }
            batches.append((index, header))
            index += header.totalSize
            totalBytes += header.totalSize
        }
        guard !batches.isEmpty else { return .fail(.corruptMessage("no record batch in the request")) }
        guard totalBytes <= config.segmentBytes else {
            return .fail(.recordListTooLarge(size: totalBytes, limit: config.segmentBytes))
        }
        // 2. Producer checks (client only), against the state plus earlier batches of this request.
        if origin == .client {
            var overlay: [Int64: ProducerStateEntry] = [:]
            for (_, header) in batches where header.hasProducerId {
                if let entry = overlay[header.producerId] ?? producers.entry(for: header.producerId) {
                    if let original = entry.duplicate(of: header) {
                        return .duplicate(AppendResult(baseOffset: original.firstOffset, lastOffset: original.lastOffset,
                                                       logAppendTime: -1, logStartOffset: logStartOffset, isDuplicate: true))
                    }
                    do { try entry.check(header) } catch { return .fail(error) }
                    var updated = entry
                    updated.add(header, nowMs: nowMs)
                    overlay[header.producerId] = updated
                } else {
                    // KIP-360: an unknown producer id (expired, or its records deleted) may start at any sequence.
                    var fresh = ProducerStateEntry(producerId: header.producerId, producerEpoch: header.producerEpoch, lastUpdateMs: nowMs)
                    fresh.add(header, nowMs: nowMs)
                    overlay[header.producerId] = fresh
                }
            }
        }
        // 3. Offsets.
        let firstOffset: Int64
        let lastOffset: Int64
        if origin == .replication {
            firstOffset = batches[0].header.baseOffset
            lastOffset = batches[batches.count - 1].header.lastOffset
            guard firstOffset >= nextOffset else {
                return .fail(.invalidRecord("replicated batch at offset \(firstOffset) is behind the log end offset \(nextOffset)"))
            }
            var previous = nextOffset - 1
            for (_, header) in batches {
                guard header.baseOffset > previous else {
                    return .fail(.invalidRecord("replicated batches are not in ascending offset order"))
                }
                previous = header.lastOffset
            }
        } else {
            firstOffset = nextOffset
            lastOffset = batches.reduce(nextOffset - 1) { $0 + Int64($1.header.lastOffsetDelta) + 1 }
        }
        try maybeRoll(firstOffset: firstOffset, lastOffset: lastOffset, bytes: totalBytes, nowMs: nowMs)
        let segment = activeSegment
        let file = try segment.logFile()
        let startPosition = segment.size
        // 4. Patch headers into one small buffer; the records are written from the caller's buffer.
        let appendTime = (origin != .replication && config.messageTimestampType == .logAppendTime) ? nowMs : -1
        var patches = ByteBufferAllocator().buffer(capacity: batches.count * RecordBatchLayout.headerSize)
        var chunks: [ByteBuffer] = []
        chunks.reserveCapacity(batches.count * 2)
        var position = startPosition
        var offset = firstOffset
        for (batchIndex, original) in batches {
            var header = original
            if origin != .replication {
                header.baseOffset = offset
                header.partitionLeaderEpoch = leaderEpoch
                offset = header.lastOffset + 1
            }
            if appendTime >= 0 {
                header.attributes |= 0x08
                header.maxTimestamp = appendTime
                let patchStart = patches.writerIndex
                writeHeader(header, into: &patches)
                let crcHeader = patches.withUnsafeReadableBytes { raw in
                    CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(patchStart - patches.readerIndex + RecordBatchLayout.attributes)...]))
                }
                let recordsLength = header.totalSize - RecordBatchLayout.headerSize
                let crc = records.withUnsafeReadableBytes { raw in
                    let start = batchIndex - records.readerIndex + RecordBatchLayout.headerSize
                    return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + recordsLength)]), continuing: crcHeader)
                }
                header.crc = crc
                patches.setInteger(crc, at: patchStart + RecordBatchLayout.crc)
                chunks.append(patches.getSlice(at: patchStart, length: RecordBatchLayout.headerSize)!)
                if recordsLength > 0 {
                    chunks.append(records.getSlice(at: batchIndex + RecordBatchLayout.headerSize, length: recordsLength)!)
                }
            } else if origin != .replication {
                let patchStart = patches.writerIndex
                patches.writeInteger(header.baseOffset)
                patches.writeInteger(header.batchLength)
                patches.writeInteger(header.partitionLeaderEpoch)
                chunks.append(patches.getSlice(at: patchStart, length: 16)!)
                chunks.append(records.getSlice(at: batchIndex + 16, length: header.totalSize - 16)!)
            } else {
                chunks.append(records.getSlice(at: batchIndex, length: header.totalSize)!)
            }
            try segment.noteAppend(header, at: position, indexIntervalBytes: config.indexIntervalBytes)
            position += Int64(header.totalSize)
            // 5. Producer state, transaction markers, leader epochs.
            if header.hasProducerId {
                var control: ControlRecordType?
                if header.isControl, let bytes = records.getSlice(at: batchIndex, length: header.totalSize) {
                    control = RecordScan.controlType(in: bytes, at: bytes.readerIndex, header: header)
                }
                if let (aborted, isAbort) = producers.apply(header, control: control, nowMs: nowMs), isAbort {
                    try segment.transactionIndex.append(aborted, cache: cache)
                }
            }
            if origin == .replication { try epochs.assign(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset) }
        }
        if origin != .replication { try epochs.assign(epoch: leaderEpoch, startOffset: firstOffset) }
        nextOffset = lastOffset + 1
        producers.mapEndOffset = nextOffset
        let count = lastOffset - firstOffset + 1
        let sync = config.isDurableAcknowledgement || unflushedMessages + count >= config.flushMessages
        unflushedMessages = sync ? 0 : unflushedMessages + count
        nextToken += 1
        let result = AppendResult(baseOffset: firstOffset, lastOffset: lastOffset, logAppendTime: appendTime,
                                  logStartOffset: logStartOffset, isDuplicate: false)
        pending.append(PendingAppend(token: nextToken, segment: segment, startPosition: startPosition, endPosition: position, nextOffset: nextOffset,
                                     result: result, recordCount: count, synced: sync, completion: completion))
        return .write(file: file, position: startPosition, chunks: chunks, sync: sync, token: nextToken)
    }

    private func writeHeader(_ header: RecordBatchHeader, into buffer: inout ByteBuffer) {
        buffer.writeInteger(header.baseOffset)
        buffer.writeInteger(header.batchLength)
        buffer.writeInteger(header.partitionLeaderEpoch)
        buffer.writeInteger(header.magic)
        buffer.writeInteger(header.crc)
        buffer.writeInteger(header.attributes)
        buffer.writeInteger(header.lastOffsetDelta)
        buffer.writeInteger(header.baseTimestamp)
        buffer.writeInteger(header.maxTimestamp)
        buffer.writeInteger(header.producerId)
        buffer.writeInteger(header.producerEpoch)
        buffer.writeInteger(header.baseSequence)
        buffer.writeInteger(header.recordsCount)
    }

    /// Rolls when the append would not fit, the segment is older than segment.ms, an index is full,
    /// or the offsets would overflow the index's 32-bit relative offsets.
    func maybeRoll(firstOffset: Int64, lastOffset: Int64, bytes: Int, nowMs: Int64) throws(StorageError) {
        let segment = activeSegment
        if segment.size == 0 {
            // An empty active segment whose base is far below a replicated batch is replaced by one at the batch.
            if lastOffset - segment.baseOffset > Int64(Int32.max) && firstOffset > segment.baseOffset {
                segment.deleteFiles()
                segments[segments.count - 1] = try LogSegment.create(directory: directory, baseOffset: firstOffset,
                                                                     config: config, cache: cache, now: nowMs)
                if segments.count == 1 { logStartOffset = max(logStartOffset, firstOffset) }
            }
            return
        }
        let full = segment.size + Int64(bytes) > Int64(config.segmentBytes)
        let old = nowMs - segment.createdAtMs > config.segmentMs
        let indexFull = segment.offsetIndex.isFull || segment.timeIndex.isFull
        let overflow = lastOffset - segment.baseOffset > Int64(Int32.max)
        guard full || old || indexFull || overflow else { return }
        try roll(at: firstOffset, nowMs: nowMs)
    }

    /// Starts a new active segment at `baseOffset`; snapshots producer state there.
    func roll(at baseOffset: Int64, nowMs: Int64) throws(StorageError) {
        let previous = activeSegment
        try previous.onBecomeInactive()
        let segment = try LogSegment.create(directory: directory, baseOffset: baseOffset, config: config, cache: cache, now: nowMs)
        segments.append(segment)
        producers.mapEndOffset = baseOffset
        try producers.writeSnapshot()
        rolledUnflushed.append(previous)
    }

    /// Marks `token` finished and pops every finished append at the front, in order. Returns the
    /// callbacks to run outside the lock and whether the log end offset moved.
    func complete(token: UInt64, errno code: Int32) -> (callbacks: [@Sendable () -> Void], advanced: Bool) {
        if let slot = pending.firstIndex(where: { $0.token == token }) {
            pending[slot].done = true
            pending[slot].errno = code
            if code != 0 && failure == nil {
                let failed = pending[slot]
                failure = (token, failed.result.baseOffset, failed.segment, failed.startPosition)
            }
        }
        var callbacks: [@Sendable () -> Void] = []
        var advanced = false
        while let first = pending.first, first.done {
            pending.removeFirst()
            if let failure, first.token >= failure.token {
                let error = StorageError.io(operation: first.errno != 0 ? "write" : "write (rolled back after an earlier failure)",
                                            path: first.segment.logPath, errno: first.errno != 0 ? first.errno : StorageError.eio)
                if let completion = first.completion { callbacks.append { completion(.failure(error)) } }
                continue
            }
            first.segment.visibleSize = max(first.segment.visibleSize, first.endPosition)
            logEndOffset = max(logEndOffset, first.nextOffset)
            if first.synced { recoveryPoint = max(recoveryPoint, first.nextOffset) }
            advanced = true
            var result = first.result
            result.logStartOffset = logStartOffset
            let final = result
            if let completion = first.completion { callbacks.append { completion(.success(final)) } }
        }
        if let failure, pending.isEmpty {
            rollBack(segment: failure.segment, position: failure.position)
        }
        return (callbacks, advanced)
    }

    /// After a failed write: cut the log back to the first failed append, rebuild producer state.
    func rollBack(segment: LogSegment, position: Int64) {
        do throws(StorageError) {
            while segments.count > 1, activeSegment !== segment {
                let removed = segments.removeLast()
                removed.deleteFiles()
                rolledUnflushed.removeAll { $0 === removed }
            }
            _ = try segment.truncate(toPosition: position)
            nextOffset = segment.nextOffset
            logEndOffset = nextOffset
            highWatermark = min(highWatermark, logEndOffset)
            recoveryPoint = min(recoveryPoint, logEndOffset)
            unflushedMessages = 0
            try epochs.truncateFromEnd(logEndOffset)
            try rebuildProducerState(nowMs: clock())
            failure = nil
        } catch {
            offlineReason = "rolling back a failed write failed: \(error)"
            logger.error("partition offline", metadata: ["dir": "\(directory)", "reason": "\(error)"])
        }
    }
}

