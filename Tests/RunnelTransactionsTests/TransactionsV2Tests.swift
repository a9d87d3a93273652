// Transactions v2 (KIP-890 part 2) in the coordinator: every EndTxn v5 bumps the epoch, the markers
// carry the new epoch, retries are recognized by the epoch they name, an abort with nothing open still
// bumps, and an exhausted epoch hands over to a new producer id.
import KafkaProtocol
import Testing
@testable import RunnelTransactions

@Suite struct TransactionsV2Tests {
    @Test func everyEndBumpsTheEpochTheMarkersCarryAndARetryGetsTheSameAnswer() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "v2", timeoutMs: 30_000, expected: nil).get()
        // The implicit add of a produce v12+ (no AddPartitionsToTxn from the client).
        #expect(await h.coordinator.addPartitions(transactionalId: "v2", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], clientTransactionVersion: 2) == .none)
        let ended = try await h.coordinator.endTransaction(transactionalId: "v2", producerId: id.producerId,
                                                           producerEpoch: id.epoch, result: .commit,
                                                           clientTransactionVersion: 2).get()
        #expect(ended == ProducerIdAndEpoch(producerId: id.producerId, epoch: id.epoch + 1))
        try await h.waitFor("v2", .completeCommit)
        #expect(h.markers.calls.map(\.producerEpoch) == [id.epoch + 1])
        // The answer was lost: the retry names the old epoch and gets the same answer.
        #expect(try await h.coordinator.endTransaction(transactionalId: "v2", producerId: id.producerId, producerEpoch: id.epoch,
                                                       result: .commit, clientTransactionVersion: 2).get() == ended)
        // A commit at the new epoch with nothing open is not a retry: invalid.
        #expect(await h.coordinator.endTransaction(transactionalId: "v2", producerId: id.producerId, producerEpoch: ended.epoch,
                                                   result: .commit, clientTransactionVersion: 2)
                == .failure(TransactionError(.invalidTxnState)))
        // An older epoch than the retry's is fenced.
        #expect(await h.coordinator.endTransaction(transactionalId: "v2", producerId: id.producerId, producerEpoch: id.epoch - 1,
                                                   result: .commit, clientTransactionVersion: 2)
                == .failure(TransactionError(.producerFenced)))

        // The next transaction at the new epoch; the old epoch's add is fenced (a zombie of the first).
        #expect(await h.coordinator.addPartitions(transactionalId: "v2", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicB], clientTransactionVersion: 2) == .producerFenced)
        #expect(await h.coordinator.addPartitions(transactionalId: "v2", producerId: id.producerId, producerEpoch: ended.epoch,
                                                  partitions: [topicB], clientTransactionVersion: 2) == .none)
        let aborted = try await h.coordinator.endTransaction(transactionalId: "v2", producerId: id.producerId,
                                                             producerEpoch: ended.epoch, result: .abort,
                                                             clientTransactionVersion: 2).get()
        #expect(aborted.epoch == ended.epoch + 1)
        try await h.waitFor("v2", .completeAbort)
        #expect(h.markers.calls.map(\.producerEpoch) == [id.epoch + 1, id.epoch + 2])
        #expect(h.markers.calls.last?.partitions == [topicB])
        #expect(try h.persistedStates("v2") == [.empty, .ongoing, .prepareCommit, .completeCommit,
                                                .ongoing, .prepareAbort, .completeAbort])
    }

    @Test func aRetryIsRecognizedByACoordinatorThatReloadedTheId() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "moved", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "moved", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA], clientTransactionVersion: 2) == .none)
        let ended = try await h.coordinator.endTransaction(transactionalId: "moved", producerId: id.producerId,
                                                           producerEpoch: id.epoch, result: .commit,
                                                           clientTransactionVersion: 2).get()
        try await h.waitFor("moved", .completeCommit)
        // A new coordinator (a restart, or the partition's new leader) loads the id from the log.
        let reloaded = try await Harness(store: h.store)
        try await reloaded.waitFor("moved", .completeCommit)
        #expect(try await reloaded.coordinator.endTransaction(transactionalId: "moved", producerId: id.producerId,
                                                              producerEpoch: id.epoch, result: .commit,
                                                              clientTransactionVersion: 2).get() == ended)
    }

    @Test func anAbortWithNothingOpenBumpsTheEpochAndWritesNoMarkers() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "empty", timeoutMs: 30_000, expected: nil).get()
        let aborted = try await h.coordinator.endTransaction(transactionalId: "empty", producerId: id.producerId,
                                                             producerEpoch: id.epoch, result: .abort,
                                                             clientTransactionVersion: 2).get()
        #expect(aborted.epoch == id.epoch + 1)
        try await h.waitFor("empty", .completeAbort)
        #expect(h.markers.calls.allSatisfy { $0.partitions.isEmpty })
        // The classic protocol refuses the same request (nothing to abort).
        #expect(await h.coordinator.endTransaction(transactionalId: "empty", producerId: id.producerId, producerEpoch: aborted.epoch,
                                                   result: .commit) == .failure(TransactionError(.invalidTxnState)))
    }

    @Test func anExhaustedEpochHandsOverToANewProducerId() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "full", timeoutMs: 30_000, expected: nil).get()
        // Walk the epoch up to its last bumpable value through the coordinator's own metadata.
        await h.coordinator.setEpochForTesting("full", epoch: Int16.max - 1)
        #expect(await h.coordinator.addPartitions(transactionalId: "full", producerId: id.producerId,
                                                  producerEpoch: Int16.max - 1, partitions: [topicA],
                                                  clientTransactionVersion: 2) == .none)
        let next = try await h.coordinator.endTransaction(transactionalId: "full", producerId: id.producerId,
                                                          producerEpoch: Int16.max - 1, result: .commit,
                                                          clientTransactionVersion: 2).get()
        #expect(next.producerId != id.producerId && next.epoch == 0)
        try await h.waitFor("full", .completeCommit)
        // The markers end the old producer's transaction at the last epoch.
        #expect(h.markers.calls.last?.producerId == id.producerId && h.markers.calls.last?.producerEpoch == Int16.max)
        let metadata = await h.coordinator.metadata(of: "full")
        #expect(metadata?.producerId == next.producerId && metadata?.previousProducerId == id.producerId)
        // The retry with the old producer id and its last epoch gets the same answer.
        #expect(try await h.coordinator.endTransaction(transactionalId: "full", producerId: id.producerId,
                                                       producerEpoch: Int16.max - 1, result: .commit,
                                                       clientTransactionVersion: 2).get() == next)
    }
}
