// PartitionLogState: what sits above the segments of one partition (Kafka's UnifiedLog state) — producer
// state, leader epochs, the log start offset, the high watermark and the last stable offset — and the
// decisions that need them: planning an append (producer checks, offset assignment, stamping), turning
// write completions into acknowledgements, cutting back after a failed write, truncation, DeleteRecords
// and ListOffsets. The segments themselves are the LocalLog's. Only touched inside PartitionLog's lock.
import KafkaRecords
import Logging
import NIOCore

/// What `planAppend` decided.
enum AppendPlan {
    case fail(StorageError)
    case duplicate(AppendResult)
    /// `direct`: on the direct path, the aligned bytes to write at `position` through `file` (O_DIRECT);
    /// `chunks` is then empty.
    case write(file: LogFileHandle, position: Int64, chunks: [ByteBuffer], sync: Bool, token: UInt64, direct: DirectSpan?)
}

/// The partition log's state above its LocalLog. Not thread-safe: used only under PartitionLog's lock.
final class PartitionLogState {
    let local: LocalLog
    let producers: ProducerStateManager
    let epochs: LeaderEpochCache
    let logger: Logger
    /// The first offset still in the log (DeleteRecords, retention).
    var logStartOffset: Int64 = 0
    /// The offset up to which consumers may read.
    var highWatermark: Int64 = 0
    /// Who moves the high watermark (see `HighWatermarkPolicy`).
    var highWatermarkPolicy: HighWatermarkPolicy
    var offlineReason: String?
    /// The cleaner's position: offsets below were compacted at least once (nil: never cleaned).
    var firstDirtyOffset: Int64?
    /// The earliest delete horizon (tombstones, markers) left by the cleaner: the log is cleanable again then.
    var deleteHorizonDueMs: Int64?
    /// The remote segments below the local ones (Tiered/).
    let tier = TierState()

    init(local: LocalLog, highWatermarkPolicy: HighWatermarkPolicy) {
        self.local = local
        self.logger = local.logger
        self.highWatermarkPolicy = highWatermarkPolicy
        epochs = LeaderEpochCache(directory: local.directory)
        producers = ProducerStateManager(directory: local.directory)
    }

    var config: LogConfig { local.config }

    /// The last stable offset: the first offset of the oldest transaction that is open, or whose marker
    /// is not yet below the high watermark, capped by the high watermark.
    var lastStableOffset: Int64 {
        if let first = producers.firstUnstableOffset(highWatermark: highWatermark), first < highWatermark {
            return max(first, logStartOffset)
        }
        return highWatermark
    }

    // MARK: Appending

    /// Plans an append; when a step fails half way, the partial state is cut back (now, or once the
    /// writes already in flight have finished) and the error is returned.
    func planAppend(_ batches: ValidatedBatches, leaderEpoch: Int32, origin: AppendOrigin, nowMs: Int64,
                    completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) -> AppendPlan {
        let segment = local.activeSegment
        let position = segment.size
        do throws(StorageError) {
            return try planAppendSteps(batches, leaderEpoch: leaderEpoch, origin: origin, nowMs: nowMs, completion: completion)
        } catch {
            if local.notePlanFailure(segment: segment, position: position) { cutBack(segment: segment, position: position) }
            return .fail(error)
        }
    }

    private func planAppendSteps(_ batches: ValidatedBatches, leaderEpoch: Int32, origin: AppendOrigin, nowMs: Int64,
                                 completion: @escaping @Sendable (Result<AppendResult, StorageError>) -> Void) throws(StorageError) -> AppendPlan {
        if let offlineReason { return .fail(.partitionOffline(offlineReason)) }
        if local.failure != nil { return .fail(.partitionOffline("a previous write failed; the log is being rolled back")) }
        // 1. The headers were checked by the validator; the log checks only what it decides itself.
        let headers = batches.headers
        guard let firstHeader = headers.first, let lastHeader = headers.last else {
            return .fail(.corruptMessage("no record batch in the request"))
        }
        let totalBytes = batches.totalBytes
        guard totalBytes <= config.segmentBytes else {
            return .fail(.recordListTooLarge(size: totalBytes, limit: config.segmentBytes))
        }
        producers.forgetCompletedTransactions(below: highWatermark)
        // 2. Producer checks (client only), against the state plus earlier batches of this request.
        if origin == .client, let duplicate = try checkProducers(headers, nowMs: nowMs) { return .duplicate(duplicate) }
        if origin == .coordinator { try checkCoordinatorBatches(batches) }
        // 3. Offsets.
        let firstOffset: Int64
        let lastOffset: Int64
        if origin == .replication {
            // Follower append: offsets as the leader assigned them, past our log end.
            firstOffset = firstHeader.baseOffset
            lastOffset = lastHeader.lastOffset
            guard firstOffset >= local.nextOffset else {
                return .fail(.invalidRecord("replicated batch at offset \(firstOffset) is behind the log end offset \(local.nextOffset)"))
            }
        } else {
            firstOffset = local.nextOffset
            lastOffset = headers.reduce(local.nextOffset - 1) { $0 + Int64($1.lastOffsetDelta) + 1 }
        }
        switch try local.prepareSegment(firstOffset: firstOffset, lastOffset: lastOffset, bytes: totalBytes, nowMs: nowMs) {
        case .none: break
        case let .rolled(base):
            // Producer state at the new segment's base, written through the engine (recovery falls back to
            // an older snapshot plus a replay until it is in place).
            producers.mapEndOffset = base
            try producers.writeSnapshot()
        case let .replacedEmpty(base):
            if local.segments.count == 1 { logStartOffset = max(logStartOffset, base) }
        }
        let segment = local.activeSegment
        let file = try segment.logFile()
        let startPosition = segment.size
        // 4. Patch headers into one small buffer; the records are written from the caller's buffer.
        let records = batches.records
        let appendTime = (origin != .replication && config.messageTimestampType == .logAppendTime) ? nowMs : -1
        var patcher = BatchHeaderPatcher(batchCount: headers.count)
        var position = startPosition
        var batchIndex = records.readerIndex
        var offset = firstOffset
        for original in headers {
            let assign: (baseOffset: Int64, leaderEpoch: Int32)? = origin == .replication ? nil : (offset, leaderEpoch)
            let header = patcher.add(original, at: batchIndex, of: records, assign: assign, appendTime: appendTime)
            offset = header.lastOffset + 1
            local.noteAppend(header, at: position)
            // 5. Producer state, transaction markers, leader epochs.
            if header.hasProducerId {
                var marker: TransactionMarkerScan?
                if header.isControl, let bytes = records.getSlice(at: batchIndex, length: header.totalSize) {
                    marker = RecordScan.marker(in: bytes, at: bytes.readerIndex, header: header)
                }
                if let (aborted, isAbort) = producers.apply(header, marker: marker, nowMs: nowMs), isAbort {
                    local.indexWrites.append(segment.transactionIndex.appendBehind(aborted))
                }
            }
            if origin == .replication { try epochs.assign(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset) }
            position += Int64(header.totalSize)
            batchIndex += header.totalSize
        }
        if origin != .replication { try epochs.assign(epoch: leaderEpoch, startOffset: firstOffset) }
        producers.mapEndOffset = lastOffset + 1
        let result = AppendResult(baseOffset: firstOffset, lastOffset: lastOffset, logAppendTime: appendTime,
                                  logStartOffset: logStartOffset, isDuplicate: false)
        if local.directIO {
            // The only user-space copy: into the segment's aligned tail; the engine writes the aligned span.
            let write = try segment.directWrite(patcher.chunks, at: startPosition, length: Int(position - startPosition), nowMs: nowMs,
                                                cache: local.tailCache)
            let (token, sync) = local.enqueueWrite(segment: segment, from: startPosition, to: position, result: result, completion: completion)
            return .write(file: write.file, position: write.position, chunks: [], sync: sync, token: token, direct: write.span)
        }
        let (token, sync) = local.enqueueWrite(segment: segment, from: startPosition, to: position, result: result, completion: completion)
        return .write(file: file, position: startPosition, chunks: patcher.chunks, sync: sync, token: token, direct: nil)
    }

    /// Idempotence and fencing for client batches. Returns the original result for a duplicate of one of
    /// the last five batches; throws on a sequence gap or a stale epoch.
    private func checkProducers(_ headers: [RecordBatchHeader], nowMs: Int64) throws(StorageError) -> AppendResult? {
        var overlay: [Int64: ProducerStateEntry] = [:]
        for header in headers where header.hasProducerId {
            if let entry = overlay[header.producerId] ?? producers.entry(for: header.producerId) {
                if let original = entry.duplicate(of: header) {
                    return AppendResult(baseOffset: original.firstOffset, lastOffset: original.lastOffset,
                                        logAppendTime: -1, logStartOffset: logStartOffset, isDuplicate: true)
                }
                try entry.check(header)
                try checkTransaction(header, entry: entry)
                var updated = entry
                updated.add(header, nowMs: nowMs)
                overlay[header.producerId] = updated
            } else {
                try checkTransaction(header, entry: nil)
                // KIP-360: an unknown producer id (expired, or its records deleted) may start at any sequence.
                var fresh = ProducerStateEntry(producerId: header.producerId, producerEpoch: header.producerEpoch, lastUpdateMs: nowMs)
                fresh.add(header, nowMs: nowMs)
                overlay[header.producerId] = fresh
            }
        }
        return nil
    }

    /// Transactions (KIP-98, KIP-890 part 1): a transactional batch may open a transaction only when the
    /// coordinator verified it (so nothing opens a transaction no coordinator will end), and a producer
    /// with an open transaction may not write outside it.
    private func checkTransaction(_ header: RecordBatchHeader, entry: ProducerStateEntry?) throws(StorageError) {
        if header.isTransactional {
            guard producers.mayAppendTransactional(producerId: header.producerId, epoch: header.producerEpoch, entry: entry) else {
                throw .invalidTxnState(producerId: header.producerId,
                                       reason: "transactional batch is not part of an ongoing transaction verified for this partition")
            }
        } else if let entry, entry.currentTxnFirstOffset != nil {
            throw .invalidTxnState(producerId: header.producerId,
                                   reason: "non-transactional batch while the producer's transaction is open")
        }
    }

    /// Coordinator batches: markers never for an epoch older than the producer's, nor from a transaction
    /// coordinator older than the last one that wrote a marker for the producer here (a deposed
    /// coordinator, Kafka's TRANSACTION_COORDINATOR_FENCED); transactional data (a group coordinator's
    /// TxnOffsetCommit) under the same verification rule as client batches.
    private func checkCoordinatorBatches(_ batches: ValidatedBatches) throws(StorageError) {
        var batchIndex = batches.records.readerIndex
        for header in batches.headers {
            defer { batchIndex += header.totalSize }
            guard header.hasProducerId else { continue }
            let entry = producers.entry(for: header.producerId)
            if let entry, header.producerEpoch < entry.producerEpoch {
                throw .invalidProducerEpoch(producerId: header.producerId, current: entry.producerEpoch,
                                            received: header.producerEpoch)
            }
            if header.isControl, let entry,
               let bytes = batches.records.getSlice(at: batchIndex, length: header.totalSize),
               let received = RecordScan.marker(in: bytes, at: bytes.readerIndex, header: header)?.coordinatorEpoch,
               received < entry.coordinatorEpoch {
                throw .transactionCoordinatorFenced(producerId: header.producerId, current: entry.coordinatorEpoch,
                                                    received: received)
            }
            if !header.isControl, header.isTransactional { try checkTransaction(header, entry: entry) }
        }
    }

    /// Starts a verification of a producer's transaction (see `checkTransaction`); nil when not needed.
    /// Whether a transactional batch of `producerId` at `epoch` would need a verification (none open here
    /// at that epoch, none verified); no side effect.
    func transactionVerificationNeeded(producerId: Int64, epoch: Int16) -> Bool {
        !producers.mayAppendTransactional(producerId: producerId, epoch: epoch, entry: producers.producers[producerId])
    }

    func beginTransactionVerification(producerId: Int64, epoch: Int16, nowMs: Int64) -> UInt64? {
        producers.beginVerification(producerId: producerId, epoch: epoch, nowMs: nowMs)
    }

    /// Completes the verification started with `token`; false when a marker intervened.
    func completeTransactionVerification(producerId: Int64, token: UInt64) -> Bool {
        producers.completeVerification(producerId: producerId, token: token)
    }

    // MARK: Completions

    /// Marks `token` written; returns the callbacks to run outside the lock (in log order) and whether the
    /// log end offset or the high watermark moved. Under `.durableLogEnd` the high watermark follows the
    /// log end offset here, before any acknowledgement (docs/decisions/0002).
    func complete(token: UInt64, errno code: Int32) -> (callbacks: [@Sendable () -> Void], advanced: Bool) {
        let outcome = local.complete(token: token, errno: code)
        var callbacks: [@Sendable () -> Void] = []
        if !outcome.succeeded.isEmpty, highWatermarkPolicy == .durableLogEnd {
            highWatermark = max(highWatermark, local.logEndOffset)
        }
        // Log order: the writes that succeeded all precede the first failed one.
        for write in outcome.succeeded {
            var result = write.result
            result.logStartOffset = logStartOffset
            let final = result
            if let completion = write.completion { callbacks.append { completion(.success(final)) } }
        }
        for (write, error) in outcome.failed {
            if let completion = write.completion { callbacks.append { completion(.failure(error)) } }
        }
        if let rollBack = outcome.rollBack { cutBack(segment: rollBack.segment, position: rollBack.position) }
        return (callbacks, !outcome.succeeded.isEmpty)
    }

    /// After a failed write: cut the log back to the first failed append, rebuild producer state.
    func cutBack(segment: LogSegment, position: Int64) {
        do throws(StorageError) {
            try local.cutBack(segment: segment, position: position)
            try afterTruncation()
        } catch {
            offlineReason = "rolling back a failed write failed: \(error)"
            logger.error("partition offline", metadata: ["dir": "\(local.directory)", "reason": "\(error)"])
        }
    }

    // MARK: Truncation and the log start offset

    /// Removes every offset ≥ `offset` (follower divergence). Callers make sure no write is in flight.
    func truncate(to offset: Int64) throws(StorageError) {
        guard offset < local.nextOffset else { return }
        firstDirtyOffset = firstDirtyOffset.map { min($0, offset) }
        if offset <= local.segments[0].baseOffset {
            try truncateFully(startAt: offset)
            return
        }
        try local.truncate(to: offset)
        try afterTruncation()
    }

    /// Deletes every segment and starts an empty log at `offset` (a follower far behind the leader).
    func truncateFully(startAt offset: Int64) throws(StorageError) {
        firstDirtyOffset = nil
        try local.truncateFully(startAt: offset)
        if let store = tier.store {
            for segment in tier.segments { try store.delete(segment.metadata) }
            tier.segments = []
        }
        try producers.deleteSnapshots()
        logStartOffset = offset
        highWatermark = offset
        try afterTruncation()
        try epochs.truncateFromStart(offset)
    }

    private func afterTruncation() throws(StorageError) {
        highWatermark = min(highWatermark, local.logEndOffset)
        logStartOffset = min(logStartOffset, local.logEndOffset)
        try epochs.truncateFromEnd(local.logEndOffset)
        try LogLoader.rebuildProducerState(producers, local: local, nowMs: local.clock())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (-1: the high watermark, at most it).
    func deleteRecords(before offset: Int64) throws(StorageError) -> Int64 {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        let target = offset == -1 ? highWatermark : offset
        guard target >= 0, target <= highWatermark else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: logStartOffset, logEndOffset: highWatermark)
        }
        if target > logStartOffset {
            logStartOffset = target
            try epochs.truncateFromStart(target)
            let segments = local.segments
            let below = segments.indices.dropLast().filter { segments[$0 + 1].baseOffset <= target }.map { segments[$0] }
            deleteSegments(below, nowMs: local.clock())
        }
        return logStartOffset
    }

    /// Deletes whole segments (retention, DeleteRecords) and moves the log start offset past them.
    func deleteSegments(_ doomed: [LogSegment], nowMs: Int64) {
        guard !doomed.isEmpty else { return }
        local.deleteSegments(doomed, nowMs: nowMs)
        logStartOffset = max(logStartOffset, local.segments[0].baseOffset)
        try? epochs.truncateFromStart(logStartOffset)
        // Keep the newest snapshot at or below the new start; older ones are useless.
        if let snapshots = try? producers.snapshotOffsets(), let keep = snapshots.last(where: { $0 <= local.segments[0].baseOffset }) {
            try? producers.deleteSnapshots(below: keep)
        }
    }

    // MARK: Reading and ListOffsets

    /// The read's upper bound for `isolation`.
    func upperBound(_ isolation: FetchIsolation) -> Int64 {
        switch isolation {
        case .logEnd: local.logEndOffset
        case .written: local.writtenEnd
        case .highWatermark: highWatermark
        case .transactionCommitted: lastStableOffset
        }
    }

    /// The empty result of a read from `offset` (offsets and watermarks filled in), after the range check.
    func emptyReadResult(from offset: Int64, isolation: FetchIsolation) throws(StorageError) -> LogReadResult {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        let end = isolation == .written ? local.writtenEnd : local.logEndOffset
        guard offset >= logStartOffset, offset <= end else {
            throw .offsetOutOfRange(requested: offset, logStartOffset: logStartOffset, logEndOffset: end)
        }
        return LogReadResult(slices: [], fetchOffset: offset, firstBatchOffset: nil, highWatermark: highWatermark,
                             lastStableOffset: lastStableOffset, logStartOffset: logStartOffset,
                             logEndOffset: local.logEndOffset,
                             abortedTransactions: isolation == .transactionCommitted ? [] : nil)
    }

    /// The leader epoch of the batch holding `offset`, from the epoch cache.
    func epoch(at offset: Int64) -> Int32? {
        epochs.entries.last(where: { $0.startOffset <= offset })?.epoch
    }

    /// ListOffsets: earliest, latest, max timestamp, or the first offset whose timestamp is ≥ T.
    func offset(for spec: ListOffsetsSpec) throws(StorageError) -> TimestampOffset? {
        if let offlineReason { throw .partitionOffline(offlineReason) }
        let found: (offset: Int64, timestamp: Int64)?
        switch spec {
        case .earliest:
            return TimestampOffset(timestamp: -1, offset: logStartOffset, leaderEpoch: epoch(at: logStartOffset))
        case .latest:
            return TimestampOffset(timestamp: -1, offset: local.logEndOffset, leaderEpoch: epochs.latestEpoch)
        case .maxTimestamp:
            found = try tieredMaxTimestampOffset()
        case let .timestamp(target):
            found = try tieredOffset(atOrAfterTimestamp: target)
        }
        return found.map { TimestampOffset(timestamp: $0.timestamp, offset: $0.offset, leaderEpoch: epoch(at: $0.offset)) }
    }
}
