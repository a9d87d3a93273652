// The coordinator's background work: writing markers until every partition has one, then persisting the
// completion; loading and unloading `__transaction_state` partitions (a prepared transaction found on
// load is completed, never lost or turned into an abort); aborting timed-out transactions; expiring
// idle transactional ids; the admin listings.
import Foundation
import KafkaProtocol

extension TransactionCoordinator {
    // MARK: - Markers

    /// Starts writing `id`'s markers (once: a second call while a task runs does nothing).
    func startMarkers(for id: String) {
        guard markerTasks[id] == nil else { return }
        markerTasks[id] = Task { [weak self] in
            await self?.writeMarkers(for: id)
        }
    }

    /// Writes COMMIT/ABORT markers to every partition of `id`'s prepared transaction, retrying with
    /// backoff until each is durable (a partition whose topic is gone is dropped), then completes the
    /// transaction (`complete`). Stops when the coordinator loses the partition.
    func writeMarkers(for id: String) async {
        defer {
            markerTasks[id] = nil
            wakeWaiters(for: id)
        }
        guard let entry = entries[id], let epoch = coordinatorEpoch(for: id) else { return }
        let prepared = entry.metadata
        guard prepared.state == .prepareCommit || prepared.state == .prepareAbort else { return }
        var remaining = prepared.partitions
        var backoff = config.retryBackoffMs
        while !remaining.isEmpty {
            guard coordinatorEpoch(for: id) == epoch, !Task.isCancelled else { return }
            let request = TransactionMarkers(producerId: prepared.producerId, producerEpoch: prepared.producerEpoch,
                                             coordinatorEpoch: epoch,
                                             result: prepared.state == .prepareCommit ? .commit : .abort,
                                             partitions: remaining)
            let results = await markers.write(request)
            var failed: [TopicPartition: ErrorCode] = [:]
            for partition in remaining {
                let code = results[partition] ?? .unknownServerError
                switch code {
                case .none:
                    continue
                case .unknownTopicOrPartition, .unknownTopicId:
                    logger.warning("dropping a transaction marker: the partition no longer exists", metadata: [
                        "transactional_id": "\(id)", "partition": "\(partition)"])
                case .invalidProducerEpoch, .transactionCoordinatorFenced:
                    // The partition saw a newer epoch of this producer (or coordinator): its open
                    // transaction, if any, is ended by that newer one's marker.
                    logger.warning("transaction marker refused; not retried", metadata: [
                        "transactional_id": "\(id)", "partition": "\(partition)", "error": "\(code.name)"])
                default:
                    failed[partition] = code
                }
            }
            remaining = Set(failed.keys)
            guard !remaining.isEmpty else { break }
            logger.debug("retrying transaction markers", metadata: [
                "transactional_id": "\(id)", "partitions": "\(remaining.count)",
                "errors": "\(Set(failed.values.map(\.name)).sorted())"])
            try? await Task.sleep(for: .milliseconds(backoff))
            backoff = min(backoff * 2, 1000)
        }
        while entries[id]?.pending != nil, coordinatorEpoch(for: id) == epoch, !Task.isCancelled {
            await waitForChange(of: id, until: busyWaitDeadline())
        }
        complete(id, prepared: prepared, epoch: epoch)
    }

    /// Every marker of `prepared` is durable: queues CompleteCommit/CompleteAbort and makes it current at
    /// once, without waiting for its write. That is safe because the log keeps the order of its appends:
    /// any later step of this id (the next transaction's Ongoing, an epoch bump, a tombstone) is queued
    /// after the completion and so is never durable without it; the client is answered only after its
    /// own step is durable. If the process dies before the completion is durable, the log still ends in
    /// PrepareCommit/PrepareAbort and loading writes the markers again (harmless) and completes.
    /// Synchronous, so the marker task ends in the same actor turn and the next transaction's EndTxn can
    /// start its own.
    func complete(_ id: String, prepared: TransactionMetadata, epoch: Int32) {
        guard coordinatorEpoch(for: id) == epoch, !Task.isCancelled, let current = entries[id],
              current.pending == nil, current.metadata == prepared else { return }
        let completed = prepared.completing(nowMs: clock.nowMs())
        guard let record = encode(completed) else { return }
        let written = TransactionLogAppend(store: store, partition: partition(for: id), records: [record])
        entries[id] = Entry(metadata: completed, pending: nil)
        view.set(id, completed)
        wakeWaiters(for: id)
        logger.debug("transaction complete", metadata: [
            "transactional_id": "\(id)", "result": "\(prepared.state == .prepareCommit ? "commit" : "abort")"])
        Task { [weak self] in await self?.confirmCompletion(of: id, completed, record: record, written: written, epoch: epoch) }
    }

    /// Waits for a completion's write; a failed one is queued again (with backoff) unless a later step of
    /// the id superseded it.
    func confirmCompletion(of id: String, _ completed: TransactionMetadata, record: TransactionLogRecord,
                           written first: TransactionLogAppend, epoch: Int32) async {
        var written = first
        var backoff = config.retryBackoffMs
        while case .failure(let error) = await written.result() {
            logger.warning("transaction completion write failed", metadata: [
                "transactional_id": "\(id)", "state": "\(completed.state)", "error": "\(error)"])
            try? await Task.sleep(for: .milliseconds(backoff))
            backoff = min(backoff * 2, 1000)
            // A later step queued meanwhile decides: once durable, it supersedes the completion.
            while isSettling(id), coordinatorEpoch(for: id) == epoch {
                await waitForChange(of: id, until: busyWaitDeadline())
            }
            guard coordinatorEpoch(for: id) == epoch, entries[id]?.metadata == completed else { return }
            written = TransactionLogAppend(store: store, partition: partition(for: id), records: [record])
        }
    }

    // MARK: - Loading

    /// Loads `partition` of `__transaction_state` as its coordinator at `epoch`: the latest record of
    /// each transactional id (tombstones remove), then resumes the markers of every prepared transaction.
    /// Returns the number of transactional ids loaded.
    @discardableResult
    public func loadPartition(_ partition: Int32, epoch: Int32) async throws(TransactionLogStoreError) -> Int {
        partitions[partition] = .loading
        let records: [TransactionLogRecord]
        do {
            records = try await store.load(partition: partition)
        } catch {
            partitions[partition] = nil
            throw error
        }
        var latest: [String: TransactionMetadata] = [:]
        var undecodable = 0
        for record in records {
            do throws(TransactionLogCodecError) {
                let (id, metadata) = try TransactionLogCodec.decode(record)
                latest[id] = metadata
            } catch {
                undecodable += 1
                logger.warning("skipping an undecodable transaction log record", metadata: [
                    "partition": "\(partition)", "error": "\(error)"])
            }
        }
        guard partitions[partition] == .loading else { return 0 }
        for (id, metadata) in latest {
            guard self.partition(for: id) == partition else { continue }
            entries[id] = Entry(metadata: metadata, pending: nil)
            view.set(id, metadata)
        }
        partitions[partition] = .loaded(epoch: epoch)
        var resumed = 0
        for (id, entry) in entries where self.partition(for: id) == partition {
            if entry.metadata.state == .prepareCommit || entry.metadata.state == .prepareAbort {
                startMarkers(for: id)
                resumed += 1
            }
        }
        if resumed > 0 || undecodable > 0 {
            logger.info("transaction state partition loaded", metadata: [
                "partition": "\(partition)", "transactional_ids": "\(latest.count)",
                "resumed_markers": "\(resumed)", "undecodable_records": "\(undecodable)"])
        }
        return latest.count
    }

    /// Stops serving `partition` (leadership moved, or shutdown); marker tasks stop at their next step.
    public func unloadPartition(_ partition: Int32) {
        partitions[partition] = nil
        for id in entries.keys where self.partition(for: id) == partition {
            entries[id] = nil
            view.set(id, nil)
            markerTasks[id]?.cancel()
            markerTasks[id] = nil
            wakeWaiters(for: id)
        }
    }

    /// Starts the timer that aborts timed-out transactions and expires idle transactional ids.
    public func startTimer() {
        guard timerTask == nil else { return }
        nextExpiryCheckMs = clock.nowMs() + config.removeExpiredIntervalMs
        let tick = Duration.milliseconds(max(config.abortTimedOutIntervalMs, 1))
        timerTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self else { return }
                await self.runTimers()
            }
        }
    }

    /// Stops the timer and every marker task, and unloads every partition.
    public func shutdown() {
        timerTask?.cancel()
        timerTask = nil
        for partition in Array(partitions.keys) { unloadPartition(partition) }
    }

    /// One timer round (tests call it after moving their clock).
    public func runTimers() async {
        await abortTimedOutTransactions()
        let now = clock.nowMs()
        if now >= nextExpiryCheckMs {
            nextExpiryCheckMs = now + config.removeExpiredIntervalMs
            await expireTransactionalIds()
        }
    }

    /// Aborts (with an epoch bump, fencing the producer) every ongoing transaction older than its timeout.
    func abortTimedOutTransactions() async {
        let now = clock.nowMs()
        let expired = entries.filter { _, entry in
            entry.pending == nil && entry.metadata.state == .ongoing
                && entry.metadata.startTimestampMs + Int64(entry.metadata.timeoutMs) <= now
        }.map(\.key)
        for id in expired {
            _ = await beginAbort(id, fencing: true, reason: "transaction.timeout.ms elapsed")
        }
    }

    /// Removes transactional ids idle for `transactional.id.expiration.ms` with no transaction in progress
    /// (a tombstone in the log; compaction drops the id's records).
    func expireTransactionalIds() async {
        let now = clock.nowMs()
        let expired = entries.filter { _, entry in
            entry.pending == nil && entry.metadata.state.isComplete
                && entry.metadata.lastUpdateTimestampMs + config.transactionalIdExpirationMs <= now
        }.map(\.key)
        for id in expired {
            guard coordinatorEpoch(for: id) != nil else { continue }
            let tombstone: TransactionLogRecord
            do throws(TransactionLogCodecError) { tombstone = try TransactionLogCodec.tombstone(id) } catch { continue }
            entries[id]?.pending = .dead
            let written = TransactionLogAppend(store: store, partition: partition(for: id), records: [tombstone])
            switch await written.result() {
            case .success:
                if entries[id]?.pending == .dead {
                    entries[id] = nil
                    view.set(id, nil)
                }
                logger.info("expired transactional id", metadata: ["transactional_id": "\(id)"])
            case .failure:
                entries[id]?.pending = nil
            }
            wakeWaiters(for: id)
        }
    }

    // MARK: - Admin

    /// One row of ListTransactions.
    public struct Listing: Sendable, Equatable {
        public var transactionalId: String
        public var producerId: Int64
        public var state: TransactionState
    }

    /// ListTransactions over the ids this coordinator owns: filtered by state names (unknown names are
    /// returned separately), producer ids, minimum duration of the ongoing transaction (`durationMs`
    /// ≥ 0) and a regular expression on the id.
    public func list(states: [String], producerIds: [Int64], durationMs: Int64,
                     pattern: String?) -> Result<(listings: [Listing], unknownStates: [String]), TransactionError> {
        let known = Set(states.compactMap(TransactionState.init(name:)))
        let unknown = states.filter { TransactionState(name: $0) == nil }
        let idFilter = Set(producerIds)
        var regex: NSRegularExpression?
        if let pattern, !pattern.isEmpty {
            guard let compiled = try? NSRegularExpression(pattern: pattern) else { return .failure(TransactionError(.invalidRegularExpression)) }
            regex = compiled
        }
        let now = clock.nowMs()
        let listings = entries.values.compactMap { entry -> Listing? in
            let metadata = entry.metadata
            guard metadata.state != .dead, metadata.producerEpoch != TransactionMetadata.noEpoch else { return nil }
            if !states.isEmpty, !known.contains(metadata.state) { return nil }
            if !idFilter.isEmpty, !idFilter.contains(metadata.producerId) { return nil }
            if durationMs >= 0, !(metadata.state == .ongoing && now - metadata.startTimestampMs >= durationMs) { return nil }
            if let regex {
                let id = metadata.transactionalId
                let range = NSRange(id.startIndex..., in: id)
                guard let match = regex.firstMatch(in: id, range: range), match.range == range else { return nil }
            }
            return Listing(transactionalId: metadata.transactionalId, producerId: metadata.producerId, state: metadata.state)
        }.sorted { $0.transactionalId < $1.transactionalId }
        return .success((listings, unknown))
    }

    /// DescribeTransactions for one id: its metadata, or the error Kafka answers.
    public func describe(_ id: String) -> Result<TransactionMetadata, TransactionError> {
        guard !id.isEmpty else { return .failure(TransactionError(.invalidRequest)) }
        if let error = coordinatorError(for: id) { return .failure(TransactionError(error)) }
        guard let entry = entries[id], entry.metadata.state != .dead,
              entry.metadata.producerEpoch != TransactionMetadata.noEpoch || entry.pending != nil
        else { return .failure(TransactionError(.transactionalIdNotFound)) }
        return .success(entry.metadata)
    }

    /// Whether any partition is loaded (the coordinator is active).
    public var isActive: Bool { partitions.values.contains { if case .loaded = $0 { true } else { false } } }
}
