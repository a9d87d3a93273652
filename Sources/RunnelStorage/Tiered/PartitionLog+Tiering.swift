// PartitionLog+Tiering: moving closed segments to the remote tier and serving them from there.
//
// Tiering (the storage scheduler, with retention; never on a request path), one segment at a time,
// oldest first: (1) under the lock, pick the first local segment when it is closed, below the high
// watermark, the last stable offset and the recovery point, and out of the hot set (local.retention.ms /
// local.retention.bytes); (2) outside the lock, the store copies it, fsyncs and publishes it; (3) under
// the lock, the remote segment takes its place and the local files are renamed `.deleted` (removed after
// file.delete.delay.ms; open slices keep reading). A crash after (2) leaves both: the next open drops the
// local copy (LogLoader). A crash inside (2) leaves unpublished files the store removes when it lists.
import KafkaRecords
import NIOCore

/// A segment chosen for the remote tier.
struct TieringJob: Sendable {
    let files: LocalSegmentFiles
    let metadata: RemoteSegmentMetadata
    let truncations: Int
}

extension PartitionLogState {
    /// The effective local retention: -2 follows retention.*.
    var localRetention: (ms: Int64, bytes: Int64) {
        (config.localRetentionMs == -2 ? config.retentionMs : config.localRetentionMs,
         config.localRetentionBytes == -2 ? config.retentionBytes : config.localRetentionBytes)
    }

    /// Step 1: the oldest local segment when it is due for the remote tier.
    func tieringCandidate(nowMs: Int64) throws(StorageError) -> TieringJob? {
        guard tier.store != nil, config.remoteStorageEnable, !config.cleanupPolicy.contains(.compact),
              offlineReason == nil, local.failure == nil, local.segments.count >= 2 else { return nil }
        let segment = local.segments[0]
        let end = local.segments[1].baseOffset
        guard end <= highWatermark, end <= lastStableOffset, end <= local.recoveryPoint, end > logStartOffset,
              !local.rolledUnflushed.contains(where: { $0 === segment }), !segment.isEmpty else { return nil }
        let (ms, bytes) = localRetention
        try segment.load()
        let largest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.createdAtMs
        let byTime = ms >= 0 && nowMs - largest > ms
        let bySize = bytes >= 0 && local.size - segment.size >= bytes
        guard byTime || bySize else { return nil }
        // Index entries still in memory reach the files first (normally none: a roll queued them).
        try segment.persistIndexes()
        let stem = segment.directory + "/" + LogSegment.fileName(segment.baseOffset, "")
        let files = LocalSegmentFiles(log: segment.logPath, offsetIndex: stem + ".index", timeIndex: stem + ".timeindex",
                                      transactionIndex: stem + ".txnindex")
        let metadata = RemoteSegmentMetadata(topic: tier.topic, partition: tier.partition, baseOffset: segment.baseOffset,
                                             endOffset: segment.nextOffset, size: segment.size, maxTimestamp: segment.maxTimestamp,
                                             offsetOfMaxTimestamp: segment.offsetOfMaxTimestamp, compression: .none)
        return TieringJob(files: files, metadata: metadata, truncations: local.truncations)
    }

    /// Step 3: the published copy replaces the local segment. False when the log changed meanwhile
    /// (truncated, compacted, deleted): the caller then deletes the copy.
    func finishTiering(_ job: TieringJob, published: RemoteSegmentMetadata, nowMs: Int64) -> Bool {
        // Compacted topics are never tiered, so the same base offset is the same segment.
        guard local.truncations == job.truncations, local.segments.count >= 2,
              local.segments[0].baseOffset == job.metadata.baseOffset, local.segments[0].size == job.metadata.size else { return false }
        tier.segments.append(RemoteSegment(published))
        local.deleteSegments([local.segments[0]], nowMs: nowMs)
        return true
    }

    /// Remote segments retention deletes (taken out of the tier; the caller deletes them in the store),
    /// with the log start offset moved past them.
    func takeExpiredRemote(nowMs: Int64) -> [RemoteSegmentMetadata] {
        let expired = tier.takeExpired(config: config, logStartOffset: logStartOffset, localSize: local.size, nowMs: nowMs)
        if !expired.isEmpty {
            logStartOffset = max(logStartOffset, tier.segments.first?.baseOffset ?? local.segments[0].baseOffset)
            try? epochs.truncateFromStart(logStartOffset)
        }
        return expired
    }

    /// ListOffsets by time over both tiers.
    func tieredOffset(atOrAfterTimestamp target: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        if let found = try tier.offset(atOrAfterTimestamp: target, minOffset: logStartOffset) { return found }
        return try local.offset(atOrAfterTimestamp: target, minOffset: logStartOffset)
    }

    /// ListOffsets max timestamp over both tiers (the later segment wins a tie, as locally).
    func tieredMaxTimestampOffset() throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        let localFound = try local.maxTimestampOffset(minOffset: logStartOffset)
        guard let remote = tier.maxTimestampSegment(minOffset: logStartOffset),
              remote.metadata.maxTimestamp > (localFound?.timestamp ?? -1) else { return localFound }
        return try tier.maxTimestampOffset(in: remote, minOffset: logStartOffset)
    }
}

extension PartitionLog {
    /// Moves the closed segments that left the hot set to the remote tier (see the file comment). Runs
    /// on the storage scheduler. Returns the number of segments moved.
    @discardableResult
    public func tierSegments() throws(StorageError) -> Int {
        var moved = 0
        while moved < 1000 {
            let now = clock()
            guard let (job, store, crash) = try state.withLock({ s throws(StorageError) -> (TieringJob, any RemoteSegmentStore, TieringStep?)? in
                guard let job = try s.tieringCandidate(nowMs: now), let store = s.tier.store else { return nil }
                return (job, store, s.tier.crashPoint)
            }) else { break }
            if crash == .copied, let directory = store as? LocalDirectoryRemoteStore {
                _ = try directory.copy(job.files, metadata: job.metadata, publish: false)
                return moved
            }
            let published = try store.copy(job.files, metadata: job.metadata)
            if crash == .published { return moved }
            remoteEnd.store(max(remoteEnd.load(ordering: .acquiring), published.endOffset), ordering: .releasing)
            let swapped = state.withLock { $0.finishTiering(job, published: published, nowMs: clock()) }
            guard swapped else {
                try store.delete(published)
                break
            }
            logger.info("segment moved to the remote tier", metadata: [
                "partition": "\(topic)-\(partition)", "baseOffset": "\(published.baseOffset)",
                "bytes": "\(published.size)", "storedBytes": "\(published.storedBytes)",
                "compression": "\(published.compression.rawValue)"])
            moved += 1
        }
        return moved
    }

    /// Deletes the remote segments retention expired (store deletes run outside the lock).
    func applyRemoteRetention(nowMs: Int64) throws(StorageError) -> Int {
        let (expired, store) = state.withLock { s in (s.takeExpiredRemote(nowMs: nowMs), s.tier.store) }
        guard let store else { return 0 }
        for metadata in expired { try store.delete(metadata) }
        return expired.count
    }

    /// True while remote segments exist: local segments then leave by tiering, not by retention.
    var hasRemoteSegments: Bool { state.withLock { !$0.tier.segments.isEmpty } }

    /// Base offsets of the remote segments, oldest first.
    public var remoteSegmentBaseOffsets: [Int64] { state.withLock { $0.tier.segments.map(\.baseOffset) } }

    /// Metadata of the remote segments, oldest first.
    public var remoteSegments: [RemoteSegmentMetadata] { state.withLock { $0.tier.segments.map(\.metadata) } }

    /// A read whose offset lies in the remote tier (nil otherwise: the local read serves it). The
    /// lookups run under the lock, the scan (and any decompression) outside it.
    func readRemote(from offset: Int64, maxBytes: Int, isolation: FetchIsolation, minOneBatch: Bool) throws(StorageError) -> LogReadResult? {
        var index: Int?
        while true {
            let planned = try state.withLock { s throws(StorageError) -> (ReadPlan, Int)?? in
                guard offset < s.local.segments[0].baseOffset else { return .some(nil) }
                let result = try s.emptyReadResult(from: offset, isolation: isolation)
                let upper = s.upperBound(isolation)
                guard offset < upper else { return .none }
                guard let at = index ?? s.tier.segmentIndex(for: offset), at < s.tier.segments.count else { return .some(nil) }
                guard let plan = try s.tier.readPlan(segmentAt: at, offset: offset, upper: upper, maxBytes: maxBytes,
                                                     minOneBatch: minOneBatch, result: result, truncations: s.local.truncations)
                else { return .some(nil) }
                return .some((plan, at))
            }
            guard let planned else {
                // Nothing readable below the bound: the empty answer, as a local read gives it.
                return try state.withLock { s throws(StorageError) in try s.emptyReadResult(from: offset, isolation: isolation) }
            }
            guard let (plan, at) = planned else { return nil }
            if var result = try plan.execute() {
                if isolation == .transactionCommitted {
                    result.abortedTransactions = state.withLock { s in
                        s.tier.abortedTransactions(from: offset, to: plan.upper)
                            + s.local.abortedTransactions(from: offset, to: plan.upper, startingAt: 0)
                    }
                }
                return result
            }
            // The batch holding `offset` is in a later segment.
            index = at + 1
        }
    }
}

extension LogLoader {
    /// At open: the published remote segments below the local ones. A local segment the remote tier
    /// already holds (a crash between publishing and deleting the local copy) is deleted.
    static func discoverRemote(_ state: PartitionLogState) throws(StorageError) {
        let tier = state.tier
        guard let store = tier.store else { return }
        let local = state.local
        var remote = try store.list(topic: tier.topic, partition: tier.partition)
        let covered = remote.last?.endOffset ?? 0
        while local.segments.count > 1, let first = local.segments.first, first.baseOffset < covered {
            local.logger.warning("removed a local segment already in the remote tier (tiering was interrupted)",
                                 metadata: ["dir": "\(local.directory)", "segment": "\(first.baseOffset)"])
            first.deleteFiles()
            local.segments.removeFirst()
        }
        // Remote segments reaching into the local log (it was truncated below them) are stale.
        if let firstLocal = local.segments.first?.baseOffset {
            while let last = remote.last, last.endOffset > firstLocal {
                try store.delete(last)
                remote.removeLast()
            }
        }
        tier.segments = remote.map(RemoteSegment.init)
    }
}
