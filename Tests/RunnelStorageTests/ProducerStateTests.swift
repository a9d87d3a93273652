// Idempotent and transactional producer state: duplicates, sequence gaps, fencing, KIP-360, snapshots,
// last stable offset, aborted transactions.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct ProducerStateTests {
    @Test(arguments: TestManagers.engines)
    func aDuplicateOfOneOfTheLastFiveBatchesReturnsTheOriginalOffsetsAndWritesNothing(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path, engine: engine)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        var results: [AppendResult] = []
        for sequence in stride(from: Int32(0), to: 18, by: 3) {
            results.append(try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 7, producerEpoch: 0,
                                                                             baseSequence: sequence), leaderEpoch: 0))
        }
        let end = log.logEndOffset
        let retry = try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 7, producerEpoch: 0, baseSequence: 6), leaderEpoch: 0)
        #expect(retry.isDuplicate)
        #expect(retry.baseOffset == results[2].baseOffset && retry.lastOffset == results[2].lastOffset)
        #expect(log.logEndOffset == end)
        // The oldest batch fell out of the five remembered: it is now out of order.
        #expect(throws: StorageError.outOfOrderSequence(producerId: 7, expected: 18, received: 0)) {
            try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 7, producerEpoch: 0, baseSequence: 0), leaderEpoch: 0)
        }
    }

    @Test func aSequenceGapIsOutOfOrderAndAStaleEpochIsFenced() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2, producerId: 9, producerEpoch: 3, baseSequence: 0), leaderEpoch: 0)
        #expect(throws: StorageError.outOfOrderSequence(producerId: 9, expected: 2, received: 5)) {
            try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 9, producerEpoch: 3, baseSequence: 5), leaderEpoch: 0)
        }
        #expect(throws: StorageError.invalidProducerEpoch(producerId: 9, current: 3, received: 2)) {
            try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 9, producerEpoch: 2, baseSequence: 2), leaderEpoch: 0)
        }
        // A new epoch must start at sequence 0.
        #expect(throws: StorageError.self) {
            try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 9, producerEpoch: 4, baseSequence: 2), leaderEpoch: 0)
        }
        let bumped = try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 9, producerEpoch: 4, baseSequence: 0), leaderEpoch: 0)
        #expect(bumped.baseOffset == 2)
        #expect(log.producerState(for: 9)?.producerEpoch == 4)
        // KIP-360: an unknown producer may start at any sequence.
        let unknown = try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 10, producerEpoch: 0, baseSequence: 42), leaderEpoch: 0)
        #expect(unknown.baseOffset == 3)
    }

    @Test func producerStateSurvivesACleanRestartThroughTheSnapshot() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            _ = try log.appendAndWait(records: TestBatches.simple(count: 2, producerId: 5, producerEpoch: 1, baseSequence: 0), leaderEpoch: 0)
            manager.shutdown()
        }
        #expect(FileManager.default.fileExists(atPath: dir.path + "/t-0/00000000000000000002.snapshot"))
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        let entry = try #require(log.producerState(for: 5))
        #expect(entry.producerEpoch == 1 && entry.lastSequence == 1 && entry.lastOffset == 1)
        let retry = try log.appendAndWait(records: TestBatches.simple(count: 2, producerId: 5, producerEpoch: 1, baseSequence: 0), leaderEpoch: 0)
        #expect(retry.isDuplicate && retry.baseOffset == 0)
    }

    @Test func everyRetainedBatchSurvivesACleanRestartSoAnyOfTheLastFiveRetriesIsADuplicate() throws {
        let dir = TemporaryDirectory()
        var written: [AppendResult] = []
        do {
            let manager = try TestManagers.make(dir.path)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for sequence in stride(from: Int32(0), to: 15, by: 3) {
                written.append(try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 8, producerEpoch: 0,
                                                                                 baseSequence: sequence), leaderEpoch: 0))
            }
            manager.shutdown()
        }
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.producerState(for: 8)?.batches.count == 5)
        // A producer whose acknowledgements were lost in the restart retries its in-flight batches, oldest first.
        for (index, sequence) in stride(from: Int32(0), to: 15, by: 3).enumerated() {
            let retry = try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 8, producerEpoch: 0,
                                                                         baseSequence: sequence), leaderEpoch: 0)
            #expect(retry.isDuplicate && retry.baseOffset == written[index].baseOffset)
        }
        #expect(log.logEndOffset == 15)
    }

    @Test func aVersionOneSnapshotStillLoadsWithItsLastBatch() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            _ = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            manager.shutdown()
        }
        // Version 1 as Runnel wrote it before: one 54-byte entry, producer 4 epoch 2, last batch 0...2 at offsets 0...2.
        var body = ByteBufferAllocator().buffer(capacity: 58)
        body.writeInteger(Int32(1))
        body.writeInteger(Int64(4)); body.writeInteger(Int16(2)); body.writeInteger(Int32(2)); body.writeInteger(Int64(2))
        body.writeInteger(Int32(2)); body.writeInteger(Int64(1_000)); body.writeInteger(Int32(-1)); body.writeInteger(Int64(-1))
        body.writeInteger(Int64(1_000))
        var file = ByteBufferAllocator().buffer(capacity: 64)
        file.writeInteger(Int16(1))
        file.writeInteger(CRC32C.checksum(of: body, at: body.readerIndex, length: body.readableBytes) ?? 0)
        file.writeImmutableBuffer(body)
        let producers = ProducerStateManager(directory: dir.path + "/t-0")
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: dir.path + "/t-0/" + ProducerStateManager.snapshotName(3)))
        #expect(try producers.loadSnapshot(at: 3))
        let entry = try #require(producers.entry(for: 4))
        #expect(entry.producerEpoch == 2 && entry.batches.count == 1)
        #expect(entry.batches.first == ProducerBatchMetadata(firstSequence: 0, lastSequence: 2, firstOffset: 0, lastOffset: 2,
                                                             timestamp: 1_000))
    }

    @Test func producerStateIsRebuiltFromTheLogAfterAnUncleanStop() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            _ = try log.appendAndWait(records: TestBatches.simple(count: 2, producerId: 5, producerEpoch: 1, baseSequence: 0), leaderEpoch: 0)
            _ = try log.appendAndWait(records: TestBatches.simple(count: 2, producerId: 5, producerEpoch: 1, baseSequence: 2), leaderEpoch: 0)
            manager.abandonForTesting()
        }
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.producerState(for: 5)?.lastSequence == 3)
        #expect(throws: StorageError.outOfOrderSequence(producerId: 5, expected: 4, received: 9)) {
            try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 5, producerEpoch: 1, baseSequence: 9), leaderEpoch: 0)
        }
    }

    @Test func openTransactionsHoldBackTheLastStableOffsetAndAbortsAreIndexed() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0)  // 0-1
        log.verifyTransaction(producerId: 11, epoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 11, producerEpoch: 0, baseSequence: 0,
                                                              transactional: true), leaderEpoch: 0)  // 2-4
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1), leaderEpoch: 0)  // 5
        log.updateHighWatermark(log.logEndOffset)
        #expect(log.lastStableOffset == 2)
        let committed = try log.read(from: 0, maxBytes: 1 << 20, isolation: .transactionCommitted)
        #expect(TestBatches.headers(in: try committed.readBytes()).map(\.baseOffset) == [0])
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 11, producerEpoch: 0), leaderEpoch: 0, origin: .coordinator)  // 6
        log.updateHighWatermark(log.logEndOffset)
        #expect(log.lastStableOffset == 7)
        let after = try log.read(from: 0, maxBytes: 1 << 20, isolation: .transactionCommitted)
        #expect(after.abortedTransactions == [AbortedTransaction(producerId: 11, firstOffset: 2, lastOffset: 6, lastStableOffset: 7)])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/t-0/00000000000000000000.txnindex"))
        #expect(log.producerState(for: 11)?.currentTxnFirstOffset == nil)
    }

    @Test func theLastStableOffsetWaitsForTheMarkerToReachTheHighWatermark() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        log.highWatermarkPolicy = .external
        log.verifyTransaction(producerId: 12, epoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 3, producerId: 12, producerEpoch: 0, baseSequence: 0,
                                                              transactional: true), leaderEpoch: 0)  // 0-2
        #expect(log.updateHighWatermark(3) == 3)
        #expect(log.lastStableOffset == 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 12, producerEpoch: 0),
                                  leaderEpoch: 0, origin: .coordinator)  // 3
        // The marker closed the transaction, but a reader up to the high watermark would get its records
        // without the marker: the last stable offset stays at the transaction's start until it is visible.
        #expect(log.producerState(for: 12)?.currentTxnFirstOffset == nil)
        #expect(log.lastStableOffset == 0)
        #expect(try log.read(from: 0, maxBytes: 1 << 20, isolation: .transactionCommitted).isEmpty)
        #expect(log.updateHighWatermark(4) == 4)
        #expect(log.lastStableOffset == 4)
    }

    @Test func idleProducersExpire() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.producerIdExpirationMs = 1_000
        let clock = TestClock(100_000)
        let manager = try TestManagers.make(dir.path, clock: clock.function, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 1, producerEpoch: 0, baseSequence: 0), leaderEpoch: 0)
        log.expireProducers()
        #expect(log.activeProducers.count == 1)
        clock.advance(2_000)
        log.expireProducers()
        #expect(log.activeProducers.isEmpty)
    }
}

/// KIP-890 part 1 in the partition: nothing opens a transaction the coordinator did not verify, and a
/// marker that lands between a verification and its append voids the verification.
@Suite struct TransactionVerificationGuardTests {
    @Test func transactionalBatchesNeedAVerificationThatNoMarkerVoided() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        let batch = { (sequence: Int32) in
            TestBatches.simple(count: 1, producerId: 21, producerEpoch: 0, baseSequence: sequence, transactional: true)
        }
        #expect(throws: StorageError.self) { try log.appendAndWait(records: batch(0), leaderEpoch: 0) }
        #expect(log.lastStableOffset == log.highWatermark)

        // Verified, then a marker of the producer lands before the append: the append is refused.
        let token = try #require(log.beginTransactionVerification(producerId: 21, epoch: 0))
        _ = try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 21, producerEpoch: 0),
                                  leaderEpoch: 0, origin: .coordinator)
        #expect(!log.completeTransactionVerification(producerId: 21, token: token))
        #expect(throws: StorageError.self) { try log.appendAndWait(records: batch(0), leaderEpoch: 0) }

        // Verified and appended: the transaction is open; later batches of it need no new verification,
        // and a non-transactional batch of the producer is refused while it is open.
        log.verifyTransaction(producerId: 21, epoch: 0)
        #expect(log.beginTransactionVerification(producerId: 21, epoch: 0) == nil)
        _ = try log.appendAndWait(records: batch(0), leaderEpoch: 0)
        _ = try log.appendAndWait(records: batch(1), leaderEpoch: 0)
        let plain = TestBatches.simple(count: 1, producerId: 21, producerEpoch: 0, baseSequence: 2)
        do {
            _ = try log.appendAndWait(records: plain, leaderEpoch: 0)
            Issue.record("a non-transactional batch was accepted inside an open transaction")
        } catch {
            guard case .invalidTxnState = error else { Issue.record("unexpected error \(error)"); return }
        }
        // A marker of an older epoch than the producer's is refused.
        log.verifyTransaction(producerId: 21, epoch: 0)
        _ = try log.appendAndWait(records: TestBatches.marker(commit: true, producerId: 21, producerEpoch: 0),
                                  leaderEpoch: 0, origin: .coordinator)
        log.verifyTransaction(producerId: 21, epoch: 1)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 21, producerEpoch: 1, baseSequence: 0,
                                                              transactional: true), leaderEpoch: 0)
        #expect(throws: StorageError.self) {
            try log.appendAndWait(records: TestBatches.marker(commit: false, producerId: 21, producerEpoch: 0),
                                  leaderEpoch: 0, origin: .coordinator)
        }
    }
}
