// A client's AddPartitionsToTxn answered once its Ongoing record is queued: nothing may act on it before
// the record is durable (a write into the partition waits; EndTxn waits), and a failed write refuses the
// writes that relied on it.
import KafkaProtocol
import Testing
@testable import RunnelTransactions

@Suite struct TransactionQueuedAddTests {
    @Test func anAddIsAnsweredWhenQueuedAndWritesWaitUntilItIsDurable() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "a", timeoutMs: 30_000, expected: nil).get()
        h.store.holdAppends()
        #expect(await h.coordinator.addPartitions(transactionalId: "a", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], answerWhenQueued: true) == .none)
        // Answered, queued in the log, but not current and not enough to let data in.
        #expect(try h.persistedStates("a") == [.empty, .ongoing])
        #expect(await h.coordinator.metadata(of: "a")?.state == .empty)
        #expect(h.coordinator.verifyNow(transactionalId: "a", producerId: id.producerId, producerEpoch: id.epoch,
                                        partition: topicA) == .transactionAbortable)
        #expect(h.coordinator.isPendingVerification(transactionalId: "a", producerId: id.producerId,
                                                    producerEpoch: id.epoch, partition: topicA))
        // Not for a partition the queued step does not hold, nor for another epoch.
        #expect(!h.coordinator.isPendingVerification(transactionalId: "a", producerId: id.producerId,
                                                     producerEpoch: id.epoch, partition: topicB))
        #expect(!h.coordinator.isPendingVerification(transactionalId: "a", producerId: id.producerId,
                                                     producerEpoch: id.epoch + 1, partition: topicA))
        let write = Task {
            await h.coordinator.verifySettled(transactionalId: "a", producerId: id.producerId, producerEpoch: id.epoch,
                                              partition: topicA)
        }
        try await eventually("the write to wait") { await h.coordinator.waitingRequests(for: "a") == 1 }
        h.store.releaseAppends()
        #expect(await write.value == .none)
        #expect(await h.coordinator.metadata(of: "a")?.state == .ongoing)
        #expect(h.coordinator.verifyNow(transactionalId: "a", producerId: id.producerId, producerEpoch: id.epoch,
                                        partition: topicA) == .none)
        #expect(!h.coordinator.isPendingVerification(transactionalId: "a", producerId: id.producerId,
                                                     producerEpoch: id.epoch, partition: topicA))
    }

    @Test func endTxnWaitsForAQueuedAddAndIsOrderedBehindIt() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "e", timeoutMs: 30_000, expected: nil).get()
        h.store.holdAppends()
        #expect(await h.coordinator.addPartitions(transactionalId: "e", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], answerWhenQueued: true) == .none)
        let end = Task {
            try await h.coordinator.endTransaction(transactionalId: "e", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit).get()
        }
        try await eventually("EndTxn to wait") { await h.coordinator.waitingRequests(for: "e") == 1 }
        #expect(try h.persistedStates("e") == [.empty, .ongoing])
        h.store.releaseAppends()
        #expect(try await end.value == id)
        #expect(try h.persistedStates("e").prefix(3) == [.empty, .ongoing, .prepareCommit])
        try await h.waitFor("e", .completeCommit)
        #expect(h.markers.calls.map(\.partitions) == [[topicA]])
    }

    @Test func aFailedQueuedAddRefusesTheWritesThatReliedOnIt() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "x", timeoutMs: 30_000, expected: nil).get()
        h.store.holdAppends()
        h.store.failAppends(with: TransactionLogStoreError(.coordinatorNotAvailable, "disk"))
        #expect(await h.coordinator.addPartitions(transactionalId: "x", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], answerWhenQueued: true) == .none)
        let write = Task {
            await h.coordinator.verifySettled(transactionalId: "x", producerId: id.producerId, producerEpoch: id.epoch,
                                              partition: topicA)
        }
        try await eventually("the write to wait") { await h.coordinator.waitingRequests(for: "x") == 1 }
        h.store.releaseAppends()
        // The add never became durable: the write is refused as for a partition never added.
        #expect(await write.value == .transactionAbortable)
        #expect(await h.coordinator.metadata(of: "x")?.state == .empty)
        #expect(!h.coordinator.isPendingVerification(transactionalId: "x", producerId: id.producerId,
                                                     producerEpoch: id.epoch, partition: topicA))
        h.store.failAppends(with: nil)
        let end = await h.coordinator.endTransaction(transactionalId: "x", producerId: id.producerId,
                                                     producerEpoch: id.epoch, result: .commit)
        #expect(end == .failure(TransactionError(.invalidTxnState)))
    }

    @Test func theNextTransactionsQueuedAddStillWaitsForThePreviousMarkers() async throws {
        let gate = Gate()
        let h = try await Harness(markers: RecordingMarkerWriter(gate: gate))
        let id = try await h.coordinator.initProducerId(transactionalId: "n", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "n", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], answerWhenQueued: true) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "n", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit).get()
        let next = Task {
            await h.coordinator.addPartitions(transactionalId: "n", producerId: id.producerId, producerEpoch: id.epoch,
                                              partitions: [topicA], answerWhenQueued: true)
        }
        try await eventually("AddPartitionsToTxn to wait") { await h.coordinator.waitingRequests(for: "n") == 1 }
        // Decision 0021: nothing of the next transaction is queued while the markers are outstanding.
        #expect(try h.persistedStates("n") == [.empty, .ongoing, .prepareCommit])
        gate.open()
        #expect(await next.value == .none)
        #expect(try h.persistedStates("n") == [.empty, .ongoing, .prepareCommit, .completeCommit, .ongoing])
    }
}
