// How a transaction completes and the next one starts: the completion is queued in the log behind the
// prepared step and ahead of the next step, requests meeting a completing transaction wait for it
// (bounded) instead of answering CONCURRENT_TRANSACTIONS, and a failed completion write is written again.
import KafkaProtocol
import Testing
@testable import RunnelTransactions

/// Polls `condition` every millisecond for up to two seconds.
func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    for _ in 0..<2000 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("timed out waiting for \(what)")
}

@Suite struct TransactionCompletionTests {
    @Test func nextTransactionWaitsForTheCompletionAndIsQueuedBehindIt() async throws {
        let gate = Gate()
        let h = try await Harness(markers: RecordingMarkerWriter(gate: gate))
        let id = try await h.coordinator.initProducerId(transactionalId: "p", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "p", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "p", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit).get()
        // The markers are held: the next transaction's AddPartitionsToTxn waits instead of failing.
        let next = Task {
            await h.coordinator.addPartitions(transactionalId: "p", producerId: id.producerId, producerEpoch: id.epoch,
                                              partitions: [topicB])
        }
        try await eventually("AddPartitionsToTxn to wait") { await h.coordinator.waitingRequests(for: "p") == 1 }
        // Nothing is durable from here on: the completion and the next step are queued, in that order.
        h.store.holdAppends()
        gate.open()
        try await eventually("the completion and the next Ongoing to be queued") { h.store.heldAppends == 2 }
        #expect(try h.persistedStates("p") == [.empty, .ongoing, .prepareCommit, .completeCommit, .ongoing])
        // The next step is not answered (nor current) before its write is durable.
        #expect(await h.coordinator.metadata(of: "p")?.state == .completeCommit)
        h.store.releaseAppends()
        #expect(await next.value == .none)
        let metadata = await h.coordinator.metadata(of: "p")
        #expect(metadata?.state == .ongoing)
        #expect(metadata?.partitions == [topicB])
    }

    /// Decision 0021: nothing of the next transaction is written while the previous one's markers are
    /// outstanding. Classic (v1) markers name only the producer id and epoch, which both transactions
    /// share, so a log holding the next transaction's record but no completion could not tell on load
    /// whether resending the prepared transaction's markers would end that transaction or the next one's
    /// data in a partition.
    @Test func theNextTransactionIsNotWrittenWhileThePreviousMarkersAreOutstanding() async throws {
        for result in [TransactionResult.commit, .abort] {
            let gate = Gate()
            let h = try await Harness(markers: RecordingMarkerWriter(gate: gate))
            let id = try await h.coordinator.initProducerId(transactionalId: "q", timeoutMs: 30_000, expected: nil).get()
            #expect(await h.coordinator.addPartitions(transactionalId: "q", producerId: id.producerId,
                                                      producerEpoch: id.epoch, partitions: [topicA, topicB]) == .none)
            _ = try await h.coordinator.endTransaction(transactionalId: "q", producerId: id.producerId,
                                                       producerEpoch: id.epoch, result: result).get()
            let prepared: TransactionState = result == .commit ? .prepareCommit : .prepareAbort
            let completed: TransactionState = result == .commit ? .completeCommit : .completeAbort
            let next = Task {
                await h.coordinator.addPartitions(transactionalId: "q", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA])
            }
            try await eventually("AddPartitionsToTxn to wait") { await h.coordinator.waitingRequests(for: "q") == 1 }
            // The markers are held: the log still ends in the prepared step.
            #expect(try h.persistedStates("q") == [.empty, .ongoing, prepared])
            #expect(h.markers.calls.isEmpty)
            gate.open()
            #expect(await next.value == .none)
            // The markers were written before the next transaction's record, and the completion sits
            // between the prepared step and that record.
            #expect(h.markers.calls.count == 1)
            #expect(try h.persistedStates("q") == [.empty, .ongoing, prepared, completed, .ongoing])
        }
    }

    @Test func initProducerIdWaitsForTheCompletionAndThenBumpsTheEpoch() async throws {
        let gate = Gate()
        let h = try await Harness(markers: RecordingMarkerWriter(gate: gate))
        let id = try await h.coordinator.initProducerId(transactionalId: "i", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "i", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "i", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit).get()
        let restarted = Task { await h.coordinator.initProducerId(transactionalId: "i", timeoutMs: 30_000, expected: nil) }
        try await eventually("InitProducerId to wait") { await h.coordinator.waitingRequests(for: "i") == 1 }
        #expect(await h.coordinator.metadata(of: "i")?.state == .prepareCommit)
        gate.open()
        #expect(try await restarted.value.get() == ProducerIdAndEpoch(producerId: id.producerId, epoch: id.epoch + 1))
        // The commit completed (never turned into an abort) before the epoch bump, in the log too.
        #expect(try h.persistedStates("i") == [.empty, .ongoing, .prepareCommit, .completeCommit, .empty])
        #expect(h.markers.calls.map(\.result) == [.commit])
    }

    @Test func aRequestWaitsOnlyBoundedForMarkersThatDoNotComplete() async throws {
        let wait: Int64 = 100
        let h = try await Harness(markers: RecordingMarkerWriter(failures: 1_000_000), busyWaitMs: wait)
        let id = try await h.coordinator.initProducerId(transactionalId: "stuck", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "stuck", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "stuck", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .abort).get()
        let started = ContinuousClock.now
        #expect(await h.coordinator.addPartitions(transactionalId: "stuck", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .concurrentTransactions)
        #expect(await h.coordinator.initProducerId(transactionalId: "stuck", timeoutMs: 30_000, expected: nil)
            == .failure(TransactionError(.concurrentTransactions)))
        #expect(ContinuousClock.now - started >= .milliseconds(2 * wait))
        await h.coordinator.shutdown()
    }

    @Test func aFencedProducerIsAnsweredWithoutWaitingForMarkersThatDoNotComplete() async throws {
        // A bound of a minute: waiting it out would show plainly, scheduling delays on a loaded machine
        // (the answer needs the cooperative pool) would not.
        let h = try await Harness(markers: RecordingMarkerWriter(failures: 1_000_000), busyWaitMs: 60_000)
        let id = try await h.coordinator.initProducerId(transactionalId: "stuck", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "stuck", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "stuck", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .abort).get()
        let fencedStart = ContinuousClock.now
        #expect(await h.coordinator.addPartitions(transactionalId: "stuck", producerId: id.producerId,
                                                  producerEpoch: id.epoch - 1, partitions: [topicA]) == .producerFenced)
        #expect(ContinuousClock.now - fencedStart < .seconds(30))
        await h.coordinator.shutdown()
    }

    @Test func aFailedCompletionWriteIsWrittenAgain() async throws {
        let gate = Gate()
        let h = try await Harness(markers: RecordingMarkerWriter(gate: gate))
        let id = try await h.coordinator.initProducerId(transactionalId: "c", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "c", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "c", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit).get()
        h.store.failAppends(with: TransactionLogStoreError(.coordinatorNotAvailable, "disk"))
        gate.open()
        try await h.waitFor("c", .completeCommit)
        #expect(try h.persistedStates("c").last == .prepareCommit)
        h.store.failAppends(with: nil)
        try await eventually("the completion to be written again") { try h.persistedStates("c").last == .completeCommit }
        #expect(try h.persistedStates("c") == [.empty, .ongoing, .prepareCommit, .completeCommit])
    }
}
