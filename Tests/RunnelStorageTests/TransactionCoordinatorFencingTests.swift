// TRANSACTION_COORDINATOR_FENCED: a partition remembers, per producer, the epoch of the transaction
// coordinator that wrote its last marker, and refuses a marker from an older coordinator epoch (a deposed
// coordinator still finishing its markers); the epoch survives restarts, clean (snapshot) and unclean
// (replay of the log).
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct TransactionCoordinatorFencingTests {
    /// Opens a transaction of producer 31 (epoch 0) in `log`.
    func openTransaction(_ log: PartitionLog, sequence: Int32) throws {
        log.verifyTransaction(producerId: 31, epoch: 0)
        _ = try log.appendAndWait(records: TestBatches.simple(count: 1, producerId: 31, producerEpoch: 0,
                                                              baseSequence: sequence, transactional: true), leaderEpoch: 0)
    }

    func marker(_ log: PartitionLog, coordinatorEpoch: Int32) throws {
        _ = try log.appendAndWait(records: TestBatches.marker(commit: true, producerId: 31, producerEpoch: 0,
                                                              coordinatorEpoch: coordinatorEpoch),
                                  leaderEpoch: 0, origin: .coordinator)
    }

    func expectFenced(_ log: PartitionLog, coordinatorEpoch: Int32, current: Int32) {
        #expect(throws: StorageError.transactionCoordinatorFenced(producerId: 31, current: current, received: coordinatorEpoch)) {
            try marker(log, coordinatorEpoch: coordinatorEpoch)
        }
    }

    @Test func aMarkerFromAnOlderCoordinatorEpochIsFenced() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
        #expect(log.producerState(for: 31) == nil)
        try openTransaction(log, sequence: 0)
        try marker(log, coordinatorEpoch: 5)
        #expect(log.producerState(for: 31)?.coordinatorEpoch == 5)
        #expect(log.producerState(for: 31)?.currentTxnFirstOffset == nil)

        // The next transaction: the old coordinator (epoch 4) cannot end it; the current one (5) or a
        // newer one (6) can.
        try openTransaction(log, sequence: 1)
        let end = log.logEndOffset
        expectFenced(log, coordinatorEpoch: 4, current: 5)
        #expect(log.logEndOffset == end)
        #expect(log.producerState(for: 31)?.currentTxnFirstOffset != nil)
        try marker(log, coordinatorEpoch: 5)
        try openTransaction(log, sequence: 2)
        try marker(log, coordinatorEpoch: 6)
        #expect(log.producerState(for: 31)?.coordinatorEpoch == 6)
        expectFenced(log, coordinatorEpoch: 5, current: 6)
    }

    @Test func theCoordinatorEpochSurvivesACleanRestartThroughTheSnapshot() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            try openTransaction(log, sequence: 0)
            try marker(log, coordinatorEpoch: 7)
            manager.shutdown()
        }
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.producerState(for: 31)?.coordinatorEpoch == 7)
        expectFenced(log, coordinatorEpoch: 6, current: 7)
    }

    @Test func theCoordinatorEpochIsRebuiltFromTheLogAfterAnUncleanStop() throws {
        let dir = TemporaryDirectory()
        do {
            let manager = try TestManagers.make(dir.path)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            try openTransaction(log, sequence: 0)
            try marker(log, coordinatorEpoch: 3)
            manager.abandonForTesting()
        }
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        #expect(log.producerState(for: 31)?.coordinatorEpoch == 3)
        expectFenced(log, coordinatorEpoch: 2, current: 3)
    }
}
