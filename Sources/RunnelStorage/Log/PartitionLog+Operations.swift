// PartitionLog+Operations: the rest of the partition log's public face — reads as file slices (scanned
// outside the lock, see ReadPlan), ListOffsets, DeleteRecords, truncation, leader epochs, producer state
// queries — and the hooks the LogManager's scheduler drives (retention, compaction, expiry, flush.ms,
// checkpoints, clean close).
import Foundation
import KafkaRecords
import NIOCore

extension PartitionLog {
    /// Reads from `offset`: at most `maxBytes` (but one whole batch when `minOneBatch` and the first batch
    /// is larger), up to the bound `isolation` sets. Returns slices of one segment file, as Kafka does.
    /// `readAhead`: a sequential reader's next ranges are read into the page cache ahead of its fetches
    /// (a follower's; a consumer's cold ranges are read with O_DIRECT by the fetch path instead).
    public func read(from offset: Int64, maxBytes: Int, isolation: FetchIsolation = .highWatermark,
                     minOneBatch: Bool = true, readAhead: Bool = true) throws(StorageError) -> LogReadResult {
        if logDir.isOffline { throw .logDirOffline(path: logDir.path) }
        if offset < remoteEnd.load(ordering: .acquiring),
           let remote = try readRemote(from: offset, maxBytes: maxBytes, isolation: isolation, minOneBatch: minOneBatch) { return remote }
        // The lock covers the bounds and index lookups; the header scans (preads) run outside it.
        let (plan, empty) = try state.withLock { s throws(StorageError) -> (ReadPlan?, LogReadResult) in
            let result = try s.emptyReadResult(from: offset, isolation: isolation)
            let upper = s.upperBound(isolation)
            guard offset < upper, let index = s.local.segmentIndex(for: offset) else { return (nil, result) }
            return (try s.local.readPlan(segmentAt: index, offset: offset, upper: upper, maxBytes: maxBytes,
                                         minOneBatch: minOneBatch, result: result, written: isolation == .written), result)
        }
        guard let plan else { return empty }
        if var result = try plan.execute() {
            let valid = state.withLock { s -> Bool in
                guard s.local.truncations == plan.truncations else { return false }
                if isolation == .transactionCommitted {
                    result.abortedTransactions = s.local.abortedTransactions(from: offset, to: plan.upper,
                                                                             startingAt: s.local.segmentIndex(for: offset) ?? 0)
                }
                return true
            }
            if valid {
                if readAhead, let last = result.slices.last { last.file.readAhead(from: last.position, to: last.position + Int64(last.length)) }
                return result
            }
        }
        // A truncation raced the scan, or the batch lies in a later segment: the same scan under the lock.
        return try state.withLock { s throws(StorageError) in
            var result = try s.emptyReadResult(from: offset, isolation: isolation)
            let upper = s.upperBound(isolation)
            guard offset < upper, let index = s.local.segmentIndex(for: offset) else { return result }
            if let (found, segment) = try s.local.readWalkingSegments(from: index, offset: offset, upper: upper, maxBytes: maxBytes,
                                                                      minOneBatch: minOneBatch, result: result,
                                                                      written: isolation == .written) {
                result = found
                if isolation == .transactionCommitted {
                    result.abortedTransactions = s.local.abortedTransactions(from: offset, to: upper, startingAt: segment)
                }
            }
            return result
        }
    }

    /// ListOffsets: earliest, latest, max timestamp, or the first offset whose timestamp is ≥ T
    /// (nil when no record is that recent). The broker maps Kafka's wire sentinels to the spec.
    public func offset(for spec: ListOffsetsSpec) throws(StorageError) -> TimestampOffset? {
        if logDir.isOffline { throw .logDirOffline(path: logDir.path) }
        return try state.withLock { s throws(StorageError) in try s.offset(for: spec) }
    }

    /// DeleteRecords: moves the log start offset to `offset` (-1: the high watermark); whole segments below
    /// it are deleted asynchronously. Returns the new log start offset (Kafka's low watermark).
    @discardableResult
    public func deleteRecords(before offset: Int64) throws(StorageError) -> Int64 {
        try state.withLock { s throws(StorageError) in try s.deleteRecords(before: offset) }
    }

    /// Removes every offset ≥ `offset` (follower divergence). Waits for in-flight writes first.
    public func truncate(to offset: Int64) throws(StorageError) {
        try whenIdle { s throws(StorageError) in try s.truncate(to: offset) }
    }

    /// Deletes everything and restarts the log empty at `offset` (a follower behind the leader's start).
    public func truncateFullyAndStart(at offset: Int64) throws(StorageError) {
        try whenIdle { s throws(StorageError) in try s.truncateFully(startAt: offset) }
    }

    /// `truncate(to:)` for callers on Swift's cooperative pool (a follower's fetch loop): waits for
    /// in-flight writes by suspending, not by blocking one of the pool's few threads.
    public func truncateAfterWrites(to offset: Int64) async throws(StorageError) {
        try await whenIdleSuspending { s throws(StorageError) in try s.truncate(to: offset) }
    }

    /// `truncateFullyAndStart(at:)` for callers on Swift's cooperative pool.
    public func truncateFullyAfterWrites(startingAt offset: Int64) async throws(StorageError) {
        try await whenIdleSuspending { s throws(StorageError) in try s.truncateFully(startAt: offset) }
    }

    /// Runs `body` under the lock once no write (data, index bytes, snapshot, checkpoint) is in flight:
    /// truncation must not race a write. Blocks the calling thread while it waits (tests, shutdown).
    private func whenIdle(_ body: (PartitionLogState) throws(StorageError) -> Void) throws(StorageError) {
        for attempt in 0..<Self.idleAttempts {
            if try runIfIdle(body) { return }
            usleep(UInt32(Self.idlePause(attempt) / 1000))
        }
        throw .partitionOffline("in-flight writes did not finish")
    }

    /// `whenIdle` that suspends between its checks. Cancellation ends the wait with an error.
    private func whenIdleSuspending(_ body: (PartitionLogState) throws(StorageError) -> Void) async throws(StorageError) {
        for attempt in 0..<Self.idleAttempts {
            if try runIfIdle(body) { return }
            do {
                try await Task.sleep(nanoseconds: Self.idlePause(attempt))
            } catch {
                throw .partitionOffline("cancelled while waiting for in-flight writes")
            }
        }
        throw .partitionOffline("in-flight writes did not finish")
    }

    /// Up to 100 checks 50 µs apart, then 1 ms apart: about 100 s in all.
    private static let idleAttempts = 100_000
    private static func idlePause(_ attempt: Int) -> UInt64 { attempt < 100 ? 50_000 : 1_000_000 }

    private func runIfIdle(_ body: (PartitionLogState) throws(StorageError) -> Void) throws(StorageError) -> Bool {
        try state.withLock { s throws(StorageError) -> Bool in
            guard s.local.isIdle, fileWriter.pendingCount == 0 else { return false }
            try body(s)
            return true
        }
    }

    // MARK: Leader epochs

    /// OffsetForLeaderEpoch: the largest epoch ≤ `epoch` and the offset where the next epoch starts
    /// (for the latest epoch the written end — what followers may already hold, see `FetchIsolation.written`);
    /// (-1, -1) when unknown.
    public func endOffset(forLeaderEpoch epoch: Int32) -> (leaderEpoch: Int32, endOffset: Int64) {
        state.withLock { s in
            let found = s.epochs.endOffset(for: epoch, logEndOffset: s.local.writtenEnd)
            return (found.epoch, found.endOffset)
        }
    }

    /// The latest leader epoch written, nil when none.
    public var latestLeaderEpoch: Int32? { state.withLock { $0.epochs.latestEpoch } }

    /// All (epoch, start offset) entries.
    public var leaderEpochEntries: [EpochEntry] { state.withLock { $0.epochs.entries } }

    // MARK: Producer state

    /// Every producer known to this partition (DescribeProducers).
    public var activeProducers: [ProducerStateEntry] {
        state.withLock { s in s.producers.producers.values.sorted { $0.producerId < $1.producerId } }
    }

    /// The state of one producer id.
    public func producerState(for producerId: Int64) -> ProducerStateEntry? {
        state.withLock { $0.producers.entry(for: producerId) }
    }

    /// Aborted transactions overlapping [from, to) (read_committed consumers, tests).
    public func abortedTransactions(from: Int64, to: Int64) -> [AbortedTransaction] {
        state.withLock { s in
            guard let start = s.local.segmentIndex(for: from) ?? (s.local.segments.isEmpty ? nil : 0) else { return [] }
            return s.local.abortedTransactions(from: from, to: to, startingAt: start)
        }
    }

    // MARK: Background work (LogManager's scheduler)

    /// Applies retention (time, size, log start offset); returns the number of segments scheduled for deletion.
    @discardableResult
    public func applyRetention() throws(StorageError) -> Int {
        let now = clock()
        let remote = try applyRemoteRetention(nowMs: now)
        return try remote + state.withLock { s throws(StorageError) -> Int in
            // While remote segments remain, local ones are newer: they leave by tiering, not retention.
            let candidates = s.tier.segments.isEmpty ? try RetentionPolicy.candidates(s, nowMs: now) : []
            submitQueuedIO(s)
            s.deleteSegments(candidates, nowMs: now)
            s.local.removeDueFiles(nowMs: now)
            return candidates.count
        }
    }

    /// Compacts when cleanup.policy includes compact and the dirty ratio reaches min.cleanable.dirty.ratio
    /// (always with `force`). Returns nil when there was nothing to do.
    @discardableResult
    public func compactIfDirty(force: Bool = false) throws(StorageError) -> CompactionStats? {
        let now = clock()
        guard let input = try state.withLock({ s throws(StorageError) -> CleanerInput? in
            guard s.config.cleanupPolicy.contains(.compact), s.offlineReason == nil else { return nil }
            return try LogCleaner.input(of: s, nowMs: now, force: force)
        }) else { return nil }
        let map = try LogCleaner.buildOffsetMap(input)
        let output = try LogCleaner.writeCleaned(input, map: map)
        let swapped = try state.withLock { s throws(StorageError) in try LogCleaner.swapCleaned(input, output: output, into: s, nowMs: now) }
        logger.info("compacted", metadata: ["partition": "\(topic)-\(partition)", "segments": "\(swapped)",
                                            "groups": "\(input.groups.count)", "recordsRemoved": "\(output.recordsRemoved)"])
        return CompactionStats(segmentsCleaned: swapped, bytesBefore: input.sources.reduce(0) { $0 + $1.size },
                               bytesAfter: output.bytesAfter, recordsRemoved: output.recordsRemoved,
                               segmentsAfter: input.groups.count)
    }

    /// Whether a transactional batch of `producerId` at `epoch` would need step 1 (no transaction of that
    /// epoch open here, none verified). No side effect.
    public func transactionVerificationNeeded(producerId: Int64, epoch: Int16) -> Bool {
        state.withLock { $0.transactionVerificationNeeded(producerId: producerId, epoch: epoch) }
    }

    /// KIP-890 part 1, step 1: a transactional batch of `producerId` at `epoch` that would open a
    /// transaction here must first be verified with the transaction coordinator. Returns a token to pass
    /// to `completeTransactionVerification` once the coordinator confirmed, or nil when no verification
    /// is needed (a transaction of this producer is open here at this epoch, or was verified).
    public func beginTransactionVerification(producerId: Int64, epoch: Int16) -> UInt64? {
        let now = clock()
        return state.withLock { $0.beginTransactionVerification(producerId: producerId, epoch: epoch, nowMs: now) }
    }

    /// Step 2: the coordinator confirmed the partition is in the transaction. False when the producer's
    /// transaction ended (a marker) since step 1: the batch must then be refused.
    public func completeTransactionVerification(producerId: Int64, token: UInt64) -> Bool {
        state.withLock { $0.completeTransactionVerification(producerId: producerId, token: token) }
    }

    /// Expires idle producer ids.
    public func expireProducers() {
        let now = clock()
        state.withLock { s in
            s.producers.expire(nowMs: now, producerIdExpirationMs: s.config.producerIdExpirationMs)
        }
    }

    /// Flushes when flush.ms has passed with unflushed appends.
    func flushIfDue() {
        let now = clock()
        let due = state.withLock { s in
            s.local.releaseIdleDirectTail(nowMs: now)
            return s.local.unflushedMessages > 0 && now - s.local.lastFlushMs >= s.config.flushMs
        }
        if due { flush() }
    }

    /// Checkpoint values for the log dir's offset files.
    var checkpointOffsets: PartitionCheckpoints {
        state.withLock { s in
            PartitionCheckpoints(recoveryPoint: s.local.recoveryPoint, logStartOffset: s.logStartOffset,
                                 highWatermark: s.highWatermark, firstDirtyOffset: s.firstDirtyOffset)
        }
    }

    /// Waits for in-flight writes, fsyncs every segment, writes a producer snapshot at the log end offset.
    func closeCleanly() throws(StorageError) {
        try whenIdle { s throws(StorageError) in
            for segment in s.local.segments where segment.isLoaded {
                // Direct path: the zero-padded tail block goes; the file ends at the logical size.
                if segment.directTail != nil {
                    try segment.logFile().truncate(to: segment.size)
                    segment.directTail = nil
                }
                try segment.flushAll()
            }
            s.producers.mapEndOffset = s.local.logEndOffset
            try s.producers.writeSnapshot(inline: true)
            s.local.recoveryPoint = s.local.logEndOffset
            s.local.removeDueFiles(nowMs: 0, force: true)
        }
    }

    /// Unlinks `.deleted` segment files whose file.delete.delay.ms has passed.
    func removeDueFiles() {
        let now = clock()
        state.withLock { $0.local.removeDueFiles(nowMs: now) }
    }
}
