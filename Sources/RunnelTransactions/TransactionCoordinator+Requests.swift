// The transaction coordinator's client operations: InitProducerId, AddPartitionsToTxn /
// AddOffsetsToTxn, EndTxn, with Kafka's checks in Kafka's order.
import KafkaProtocol

extension TransactionCoordinator {
    /// InitProducerId. Without a transactional id: a fresh producer id at epoch 0. With one: the id's
    /// producer id at a bumped epoch (fencing every older producer of the id); an ongoing transaction of
    /// the previous producer is aborted first and the client is told CONCURRENT_TRANSACTIONS, so it retries
    /// once the abort completes. `expected` is KIP-360's current producer id and epoch of a producer
    /// recovering from an error.
    public func initProducerId(transactionalId: String?, timeoutMs: Int32,
                               expected: ProducerIdAndEpoch?) async -> Result<ProducerIdAndEpoch, TransactionError> {
        guard let id = transactionalId else {
            switch allocateProducerId() {
            case .success(let producerId): return .success(ProducerIdAndEpoch(producerId: producerId, epoch: 0))
            case .failure(let error): return .failure(error)
            }
        }
        guard !id.isEmpty else { return .failure(TransactionError(.invalidRequest)) }
        guard timeoutMs > 0, timeoutMs <= config.maxTimeoutMs else { return .failure(TransactionError(.invalidTransactionTimeout)) }
        if let error = coordinatorError(for: id) { return .failure(TransactionError(error)) }
        if entries[id] == nil {
            switch allocateProducerId() {
            case .success(let producerId):
                // In memory until the first transition is persisted (Kafka's putTransactionStateIfNotExists).
                entries[id] = Entry(metadata: TransactionMetadata(transactionalId: id, producerId: producerId,
                                                                  timeoutMs: timeoutMs, lastUpdateTimestampMs: clock.nowMs()),
                                    pending: nil)
            case .failure(let error):
                return .failure(error)
            }
        }
        if isSettling(id) {
            // The previous transaction is completing: wait for it rather than have the client back off.
            let deadline = busyWaitDeadline()
            while isSettling(id), ContinuousClock.now < deadline { await waitForChange(of: id, until: deadline) }
            if let error = coordinatorError(for: id) { return .failure(TransactionError(error)) }
        }
        guard let entry = entries[id] else { return .failure(TransactionError(.notCoordinator)) }
        let metadata = entry.metadata
        if entry.pending != nil { return .failure(TransactionError(.concurrentTransactions)) }
        if let expected {
            let valid = metadata.producerEpoch == TransactionMetadata.noEpoch
                || expected.producerId == metadata.producerId
                || (expected.producerId == metadata.previousProducerId && TransactionMetadata.isEpochExhausted(expected.epoch))
            if !valid { return .failure(TransactionError(.producerFenced)) }
        }
        let now = clock.nowMs()
        switch metadata.state {
        case .prepareCommit, .prepareAbort:
            return .failure(TransactionError(.concurrentTransactions))
        case .empty, .completeCommit, .completeAbort:
            let next: TransactionMetadata
            if metadata.isProducerEpochExhausted, expected.map({ $0.epoch == metadata.producerEpoch }) ?? true {
                switch allocateProducerId() {
                case .success(let producerId):
                    next = metadata.rotatingProducerId(to: producerId, timeoutMs: timeoutMs, nowMs: now,
                                                       recordLastEpoch: expected != nil)
                case .failure(let error):
                    return .failure(error)
                }
            } else {
                switch metadata.incrementingEpoch(timeoutMs: timeoutMs, expectedEpoch: expected?.epoch, nowMs: now) {
                case .success(let bumped): next = bumped
                case .failure(let error): return .failure(error)
                }
            }
            let error = await persist(next)
            guard error == .none else { return .failure(TransactionError(error)) }
            logger.info("initialized transactional id", metadata: [
                "transactional_id": "\(id)", "producer_id": "\(next.producerId)", "epoch": "\(next.producerEpoch)",
                "partition": "\(InternalTopics.transactionState)-\(partition(for: id))"])
            return .success(ProducerIdAndEpoch(producerId: next.producerId, epoch: next.producerEpoch))
        case .ongoing:
            // Fence the previous producer: abort its transaction at a bumped epoch, then let the client
            // retry (its retry bumps the epoch once more, past the fenced one).
            let error = await beginAbort(id, fencing: true, reason: "fenced by a new producer")
            return .failure(TransactionError(error == .none ? .concurrentTransactions : error))
        case .dead, .prepareEpochFence:
            return .failure(TransactionError(.concurrentTransactions))
        }
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn with the group's offsets partition): the partitions join
    /// the transaction, which starts if none is ongoing. Persisted before the answer.
    /// While the id's previous transaction is completing (its markers or a step's write in flight), the
    /// request waits for it (up to `busyWaitMs`) instead of answering CONCURRENT_TRANSACTIONS at once:
    /// the next transaction's first AddPartitionsToTxn usually arrives right after EndTxn's answer.
    /// `clientTransactionVersion` 2: the implicit add of a transactions-v2 produce or TxnOffsetCommit.
    public func addPartitions(transactionalId id: String, producerId: Int64, producerEpoch: Int16,
                              partitions added: Set<TopicPartition>, clientTransactionVersion: Int16? = nil) async -> ErrorCode {
        guard !id.isEmpty else { return .invalidRequest }
        let deadline = busyWaitDeadline()
        while true {
            if let error = coordinatorError(for: id) { return error }
            guard let entry = entries[id], entry.metadata.producerId == producerId else { return .invalidProducerIdMapping }
            guard entry.metadata.producerEpoch == producerEpoch else { return .producerFenced }
            guard isSettling(id), ContinuousClock.now < deadline else { break }
            await waitForChange(of: id, until: deadline)
        }
        guard let entry = entries[id] else { return .invalidProducerIdMapping }
        let metadata = entry.metadata
        if entry.pending != nil { return .concurrentTransactions }
        switch metadata.state {
        case .prepareCommit, .prepareAbort, .dead, .prepareEpochFence:
            return .concurrentTransactions
        case .ongoing where added.isSubset(of: metadata.partitions):
            return .none
        case .ongoing, .empty, .completeCommit, .completeAbort:
            return await persist(metadata.addingPartitions(added, clientTransactionVersion: clientTransactionVersion,
                                                           nowMs: clock.nowMs()))
        }
    }

    /// AddOffsetsToTxn: the group's `__consumer_offsets` partition joins the transaction.
    public func addOffsets(transactionalId id: String, producerId: Int64, producerEpoch: Int16,
                           groupId: String) async -> ErrorCode {
        await addPartitions(transactionalId: id, producerId: producerId, producerEpoch: producerEpoch,
                            partitions: [offsetsPartition(for: groupId)])
    }

    /// EndTxn from a client (transactions v1: the epoch must be the current one). Answers once
    /// PrepareCommit/PrepareAbort is persisted; the markers and the completion follow in the background.
    /// A retry of a completed end answers `.none`; one still writing markers CONCURRENT_TRANSACTIONS.
    /// `clientTransactionVersion` 2 (EndTxn v5): transactions v2, see `endTransactionV2`.
    public func endTransaction(transactionalId id: String, producerId: Int64, producerEpoch: Int16,
                               result: TransactionResult,
                               clientTransactionVersion: Int16 = 0) async -> Result<ProducerIdAndEpoch, TransactionError> {
        guard !id.isEmpty else { return .failure(TransactionError(.invalidRequest)) }
        if let error = coordinatorError(for: id) { return .failure(TransactionError(error)) }
        if clientTransactionVersion >= 2 {
            return await endTransactionV2(id, producerId: producerId, producerEpoch: producerEpoch, result: result)
        }
        guard let entry = entries[id], entry.metadata.producerId == producerId else {
            return .failure(TransactionError(.invalidProducerIdMapping))
        }
        let metadata = entry.metadata
        guard producerEpoch == metadata.producerEpoch else { return .failure(TransactionError(.producerFenced)) }
        if entry.pending != nil { return .failure(TransactionError(.concurrentTransactions)) }
        let current = ProducerIdAndEpoch(producerId: metadata.producerId, epoch: metadata.producerEpoch)
        switch (metadata.state, result) {
        case (.ongoing, _):
            let next = metadata.preparing(result, clientTransactionVersion: metadata.clientTransactionVersion,
                                          nowMs: clock.nowMs())
            let error = await persist(next)
            guard error == .none else { return .failure(TransactionError(error)) }
            startMarkers(for: id)
            return .success(current)
        case (.completeCommit, .commit), (.completeAbort, .abort):
            return .success(current)
        default:
            return refusedEnd(id, metadata, result)
        }
    }

    /// EndTxn v5 (KIP-890 part 2): every end bumps the epoch (the markers carry the new one and the
    /// answer hands it to the client), so the epoch alone tells a retry from the next transaction's end:
    /// a retry names the epoch the transaction ended with (one below the persisted one, or the last epoch
    /// of the previous producer id after an overflow) and gets the same answer; an abort with no transaction
    /// in progress also bumps the epoch (the client fences its own earlier attempts that way).
    func endTransactionV2(_ id: String, producerId: Int64, producerEpoch: Int16,
                          result: TransactionResult) async -> Result<ProducerIdAndEpoch, TransactionError> {
        guard let entry = entries[id] else { return .failure(TransactionError(.invalidProducerIdMapping)) }
        let metadata = entry.metadata
        // A v2 end persisted the bumped epoch, so a retry names the epoch just below it — a rule that holds
        // after the coordinator reloaded the id (the previous epoch is not part of the record), as Kafka's.
        let endedAsV2 = metadata.clientTransactionVersion >= 2
            && [.prepareCommit, .prepareAbort, .completeCommit, .completeAbort].contains(metadata.state)
        let retryOnEpochBump = endedAsV2 && metadata.producerId == producerId
            && metadata.producerEpoch > 0 && producerEpoch == metadata.producerEpoch - 1
        let retryOnOverflow = endedAsV2 && metadata.previousProducerId == producerId
            && producerEpoch == Int16.max - 1 && metadata.producerEpoch == 0
        guard metadata.producerId == producerId || retryOnOverflow else {
            return .failure(TransactionError(.invalidProducerIdMapping))
        }
        let validEpoch: Bool
        switch metadata.state {
        case .ongoing, .empty, .dead, .prepareEpochFence:
            validEpoch = producerEpoch == metadata.producerEpoch
        case .prepareCommit, .prepareAbort:
            validEpoch = retryOnEpochBump
        case .completeCommit, .completeAbort:
            validEpoch = retryOnEpochBump || retryOnOverflow || producerEpoch == metadata.producerEpoch
        }
        guard validEpoch else { return .failure(TransactionError(.producerFenced)) }
        if entry.pending != nil { return .failure(TransactionError(.concurrentTransactions)) }
        let isRetry = retryOnEpochBump || retryOnOverflow
        switch (metadata.state, result) {
        case (.ongoing, _):
            return await prepareWithEpochBump(id, metadata, result)
        case (.completeCommit, .commit) where isRetry, (.completeAbort, .abort) where isRetry:
            return .success(ProducerIdAndEpoch(producerId: metadata.producerId, epoch: metadata.producerEpoch))
        case (.completeCommit, .abort), (.completeAbort, .abort), (.empty, .abort):
            guard !isRetry else { return .failure(TransactionError(.invalidTxnState)) }
            return await prepareWithEpochBump(id, metadata, .abort)
        default:
            return refusedEnd(id, metadata, result)
        }
    }

    /// The answer to an EndTxn that neither protocol serves in `metadata`'s state: the same end still
    /// writing its markers, or an id being removed or fenced, is CONCURRENT_TRANSACTIONS (retry); anything
    /// else is INVALID_TXN_STATE.
    private func refusedEnd(_ id: String, _ metadata: TransactionMetadata,
                            _ result: TransactionResult) -> Result<ProducerIdAndEpoch, TransactionError> {
        switch (metadata.state, result) {
        case (.prepareCommit, .commit), (.prepareAbort, .abort), (.dead, _), (.prepareEpochFence, _):
            return .failure(TransactionError(.concurrentTransactions))
        default:
            logger.debug("EndTxn in an invalid state", metadata: [
                "transactional_id": "\(id)", "state": "\(metadata.state)", "result": "\(result)"])
            return .failure(TransactionError(.invalidTxnState))
        }
    }

    /// Persists PrepareCommit/PrepareAbort at the bumped epoch (a new producer id to follow when the epoch
    /// is exhausted), starts the markers and answers with the producer id and epoch to continue with.
    private func prepareWithEpochBump(_ id: String, _ metadata: TransactionMetadata,
                                      _ result: TransactionResult) async -> Result<ProducerIdAndEpoch, TransactionError> {
        var nextProducerId: Int64?
        if metadata.isProducerEpochExhausted {
            switch allocateProducerId() {
            case .success(let allocated): nextProducerId = allocated
            case .failure(let error): return .failure(error)
            }
        }
        let next = metadata.preparingWithEpochBump(result, nextProducerId: nextProducerId, nowMs: clock.nowMs())
        let error = await persist(next)
        guard error == .none else { return .failure(TransactionError(error)) }
        startMarkers(for: id)
        return .success(next.continuingProducer)
    }

    /// Aborts `id`'s ongoing transaction on the coordinator's own initiative (timeout, fencing, admin):
    /// persists PrepareAbort — at a bumped epoch when `fencing`, so the old producer can neither write
    /// nor end it — then writes the markers in the background.
    func beginAbort(_ id: String, fencing: Bool, reason: String) async -> ErrorCode {
        guard let entry = entries[id], entry.metadata.state == .ongoing else { return .invalidTxnState }
        if entry.pending != nil { return .concurrentTransactions }
        let now = clock.nowMs()
        let base = fencing ? entry.metadata.fencingEpoch(nowMs: now) : entry.metadata
        let next = base.preparing(.abort, clientTransactionVersion: base.clientTransactionVersion, nowMs: now)
        let error = await persist(next)
        guard error == .none else { return error }
        logger.info("aborting transaction", metadata: [
            "transactional_id": "\(id)", "producer_id": "\(next.producerId)", "epoch": "\(next.producerEpoch)",
            "partitions": "\(next.partitions.count)", "reason": "\(reason)"])
        startMarkers(for: id)
        return .none
    }

    func allocateProducerId() -> Result<Int64, TransactionError> {
        do {
            return .success(try producerIds.nextProducerId())
        } catch {
            logger.error("could not allocate a producer id", metadata: ["error": "\(error)"])
            return .failure(TransactionError(.coordinatorNotAvailable))
        }
    }
}
