// A client's AddPartitionsToTxn / AddOffsetsToTxn answered once its Ongoing record is queued rather than
// durable (one I/O round less per transaction), with every check that lets data into a partition on the
// strength of that record waiting until it is durable. See docs/transactions.md ("Adding partitions")
// and docs/decisions/0021.
import KafkaProtocol

extension TransactionCoordinator {
    /// Queues `next` (an Ongoing step of a client's AddPartitionsToTxn or AddOffsetsToTxn) and returns
    /// without waiting for its write: the id carries the pending state and the view the queued metadata
    /// until the record is durable, then `next` becomes current (or, if the write failed, the pending
    /// state is dropped and the client's next step is refused as if the add had never happened).
    ///
    /// Safe because nothing acts on the answer before the record is durable: a transactional produce, a
    /// TxnOffsetCommit or another broker's verification that this record would allow waits for it
    /// (`isPendingVerification`, `verifySettled`, `verify`); EndTxn, InitProducerId and further adds wait
    /// for the pending step like for any other. A crash before the record is durable loses only an add
    /// that no data used.
    func persistAnsweringWhenQueued(_ next: TransactionMetadata) -> ErrorCode {
        let id = next.transactionalId
        guard let epoch = coordinatorEpoch(for: id) else { return coordinatorError(for: id) ?? .notCoordinator }
        guard let record = encode(next) else { return .unknownServerError }
        entries[id]?.pending = next.state
        view.setQueued(id, next)
        let written = TransactionLogAppend(store: store, partition: partition(for: id), records: [record])
        Task { [weak self] in
            let result = await written.result()
            await self?.settleQueued(next, result: result, epoch: epoch)
        }
        return .none
    }

    /// The queued step's write finished: make it current (durable view first, so a concurrent check never
    /// finds neither view allowing it), or drop it on failure.
    private func settleQueued(_ next: TransactionMetadata, result: Result<Void, TransactionLogStoreError>, epoch: Int32) {
        let id = next.transactionalId
        defer {
            view.setQueued(id, nil)
            wakeWaiters(for: id)
        }
        if case .failure(let error) = result {
            if entries[id]?.pending == next.state { entries[id]?.pending = nil }
            logger.warning("transaction state write failed after the client was answered", metadata: [
                "transactional_id": "\(id)", "state": "\(next.state)", "error": "\(error)"])
            return
        }
        guard coordinatorEpoch(for: id) == epoch, entries[id] != nil else { return }
        entries[id] = Entry(metadata: next, pending: nil)
        view.set(id, next)
    }

    /// Whether a write into `partition` by `producerId`/`producerEpoch` is refused by the durable metadata
    /// but allowed by a queued step still being written: the caller waits (`verifySettled`) instead of
    /// refusing. Readable without a hop onto the actor, like `verifyNow`.
    public nonisolated func isPendingVerification(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                                                  partition: TopicPartition) -> Bool {
        guard let queued = view.queued(transactionalId) else { return false }
        let allowed = Self.verify(queued, transactionalId: transactionalId, producerId: producerId,
                                  producerEpoch: producerEpoch, partitions: [partition])[partition] == ErrorCode.none
        return allowed && verifyNow(transactionalId: transactionalId, producerId: producerId,
                                    producerEpoch: producerEpoch, partition: partition) != .none
    }

    /// `verifyNow` after the id settles (a queued step durable or failed; bounded by `busyWaitMs`).
    public func verifySettled(transactionalId id: String, producerId: Int64, producerEpoch: Int16,
                              partition: TopicPartition) async -> ErrorCode {
        await waitWhilePending(id)
        return verify(transactionalId: id, producerId: producerId, producerEpoch: producerEpoch,
                      partitions: [partition])[partition] ?? .unknownServerError
    }

    /// Waits (bounded by `busyWaitMs`) while `id` has a step in flight.
    func waitWhilePending(_ id: String) async {
        let deadline = busyWaitDeadline()
        while entries[id]?.pending != nil, coordinatorError(for: id) == nil, ContinuousClock.now < deadline {
            await waitForChange(of: id, until: deadline)
        }
    }
}
