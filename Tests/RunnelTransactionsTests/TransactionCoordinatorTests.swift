// The transaction coordinator's state machine against an in-memory log, a recording marker writer and a
// manual clock: every step persisted before it is acted on, fencing, timeouts, recovery of prepared
// transactions, marker retries, Kafka's error codes.
import KafkaProtocol
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelTransactions

final class ManualClock: TransactionClock {
    private let now = Mutex<Int64>(1_000_000)
    func nowMs() -> Int64 { now.withLock { $0 } }
    func advance(_ ms: Int64) { now.withLock { $0 += ms } }
}

final class CountingProducerIds: ProducerIdSource {
    private let next = Mutex<Int64>(1000)
    func nextProducerId() throws -> Int64 { next.withLock { value in defer { value += 1 }; return value } }
}

/// A latch tests open to let a waiting marker write proceed.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Records every marker request; fails the first `failures` calls per partition with `failure`; with a
/// `gate`, each write waits for it to open first.
final class RecordingMarkerWriter: TransactionMarkerWriter {
    private let state = Mutex<(calls: [TransactionMarkers], failuresLeft: Int, failure: ErrorCode)>(([], 0, .notLeaderOrFollower))
    private let gate: Gate?

    init(failures: Int = 0, failure: ErrorCode = .notLeaderOrFollower, gate: Gate? = nil) {
        self.gate = gate
        state.withLock { $0.failuresLeft = failures; $0.failure = failure }
    }

    var calls: [TransactionMarkers] { state.withLock { $0.calls } }

    func write(_ markers: TransactionMarkers) async -> [TopicPartition: ErrorCode] {
        if let gate { await gate.wait() }
        return state.withLock { state in
            state.calls.append(markers)
            if state.failuresLeft > 0 {
                state.failuresLeft -= 1
                return Dictionary(uniqueKeysWithValues: markers.partitions.map { ($0, state.failure) })
            }
            return Dictionary(uniqueKeysWithValues: markers.partitions.map { ($0, ErrorCode.none) })
        }
    }
}

struct Harness {
    let store = InMemoryTransactionLogStore()
    let markers: RecordingMarkerWriter
    let clock = ManualClock()
    let coordinator: TransactionCoordinator
    static let config = TransactionCoordinatorConfig(
        transactionStatePartitions: 4, offsetsTopicPartitions: 4, maxTimeoutMs: 60_000, abortTimedOutIntervalMs: 10,
        transactionalIdExpirationMs: 3_600_000, removeExpiredIntervalMs: 1_000, retryBackoffMs: 1, busyWaitMs: 5_000)

    init(markers: RecordingMarkerWriter = RecordingMarkerWriter(), store: InMemoryTransactionLogStore? = nil,
         busyWaitMs: Int64? = nil) async throws {
        self.markers = markers
        let store = store ?? self.store
        var config = Self.config
        if let busyWaitMs { config.busyWaitMs = busyWaitMs }
        coordinator = TransactionCoordinator(config: config, store: store, markers: markers,
                                             producerIds: CountingProducerIds(), clock: clock)
        for partition in 0..<Self.config.transactionStatePartitions {
            try await coordinator.loadPartition(partition, epoch: 3)
        }
    }

    /// The states persisted for `id`, in order.
    func persistedStates(_ id: String, store: InMemoryTransactionLogStore? = nil) throws -> [TransactionState?] {
        let partition = coordinator.partition(for: id)
        return try (store ?? self.store).records(in: partition).compactMap { record in
            let (key, metadata) = try TransactionLogCodec.decode(record)
            return key == id ? metadata?.state : nil
        }
    }

    /// Waits (bounded) until `id` reaches `state`.
    func waitFor(_ id: String, _ state: TransactionState) async throws {
        for _ in 0..<2000 {
            if await coordinator.metadata(of: id)?.state == state { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("\(id) never reached \(state); it is \(String(describing: await coordinator.metadata(of: id)?.state))")
    }
}

let topicA = TopicPartition(topic: "a", partition: 0)
let topicB = TopicPartition(topic: "b", partition: 1)

@Suite struct TransactionCoordinatorTests {
    @Test func commitPersistsEveryStepAndWritesCommitMarkersBeforeCompleting() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "t1", timeoutMs: 30_000, expected: nil).get()
        #expect(id.epoch == 0)
        #expect(await h.coordinator.addPartitions(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0,
                                                  partitions: [topicA, topicB]) == .none)
        #expect(h.coordinator.verifyNow(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0, partition: topicA) == .none)
        #expect(h.coordinator.verifyNow(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0,
                                        partition: TopicPartition(topic: "c", partition: 0)) == .transactionAbortable)
        let ended = try await h.coordinator.endTransaction(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0,
                                                           result: .commit).get()
        #expect(ended == id)
        try await h.waitFor("t1", .completeCommit)
        #expect(try h.persistedStates("t1") == [.empty, .ongoing, .prepareCommit, .completeCommit])
        let calls = h.markers.calls
        #expect(calls.count == 1)
        #expect(calls.first?.result == .commit)
        #expect(calls.first?.partitions == [topicA, topicB])
        #expect(calls.first?.coordinatorEpoch == 3)
        #expect(calls.first?.producerEpoch == 0)
        // A retried EndTxn(commit) after completion succeeds; an abort of the committed one does not.
        #expect(try await h.coordinator.endTransaction(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0,
                                                       result: .commit).get() == id)
        #expect(await h.coordinator.endTransaction(transactionalId: "t1", producerId: id.producerId, producerEpoch: 0,
                                                   result: .abort) == .failure(TransactionError(.invalidTxnState)))
    }

    @Test func newProducerFencesTheOngoingTransactionWhichIsAbortedAtABumpedEpoch() async throws {
        let h = try await Harness()
        let first = try await h.coordinator.initProducerId(transactionalId: "z", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "z", producerId: first.producerId, producerEpoch: first.epoch,
                                                  partitions: [topicA]) == .none)
        // The second producer is told to retry while the first one's transaction is aborted.
        let retry = await h.coordinator.initProducerId(transactionalId: "z", timeoutMs: 30_000, expected: nil)
        #expect(retry == .failure(TransactionError(.concurrentTransactions)))
        try await h.waitFor("z", .completeAbort)
        #expect(h.markers.calls.last?.result == .abort)
        #expect(h.markers.calls.last?.producerEpoch == first.epoch + 1)
        let second = try await h.coordinator.initProducerId(transactionalId: "z", timeoutMs: 30_000, expected: nil).get()
        #expect(second.producerId == first.producerId)
        #expect(second.epoch == first.epoch + 2)
        // The zombie can neither add partitions nor end a transaction.
        #expect(await h.coordinator.addPartitions(transactionalId: "z", producerId: first.producerId, producerEpoch: first.epoch,
                                                  partitions: [topicA]) == .producerFenced)
        #expect(await h.coordinator.endTransaction(transactionalId: "z", producerId: first.producerId, producerEpoch: first.epoch,
                                                   result: .commit) == .failure(TransactionError(.producerFenced)))
        #expect(h.coordinator.verifyNow(transactionalId: "z", producerId: first.producerId, producerEpoch: first.epoch,
                                        partition: topicA) == .producerFenced)
    }

    @Test func timedOutTransactionIsAbortedAndItsProducerFenced() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "slow", timeoutMs: 5_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "slow", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        h.clock.advance(4_999)
        await h.coordinator.runTimers()
        #expect(await h.coordinator.metadata(of: "slow")?.state == .ongoing)
        h.clock.advance(1)
        await h.coordinator.runTimers()
        try await h.waitFor("slow", .completeAbort)
        #expect(h.markers.calls.last?.result == .abort)
        #expect(h.markers.calls.last?.partitions == [topicA])
        #expect(await h.coordinator.endTransaction(transactionalId: "slow", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit) == .failure(TransactionError(.producerFenced)))
        // KIP-360: the fenced producer recovers with its last id and epoch... but only the current epoch bumps.
        let recovered = await h.coordinator.initProducerId(transactionalId: "slow", timeoutMs: 5_000,
                                                           expected: ProducerIdAndEpoch(producerId: id.producerId, epoch: id.epoch + 1))
        #expect(try recovered.get().epoch == id.epoch + 2)
    }

    @Test func preparedCommitFoundOnLoadIsCompletedAsACommit() async throws {
        let store = InMemoryTransactionLogStore()
        let crashed = try await Harness(markers: RecordingMarkerWriter(failures: 1_000_000), store: store)
        let id = try await crashed.coordinator.initProducerId(transactionalId: "crash", timeoutMs: 30_000, expected: nil).get()
        #expect(await crashed.coordinator.addPartitions(transactionalId: "crash", producerId: id.producerId,
                                                        producerEpoch: id.epoch, partitions: [topicA, topicB]) == .none)
        _ = try await crashed.coordinator.endTransaction(transactionalId: "crash", producerId: id.producerId,
                                                         producerEpoch: id.epoch, result: .commit).get()
        // The markers never get written before the "crash".
        await crashed.coordinator.shutdown()
        #expect(try crashed.persistedStates("crash", store: store).last == .prepareCommit)

        let restarted = try await Harness(store: store)
        try await restarted.waitFor("crash", .completeCommit)
        #expect(restarted.markers.calls.map(\.result) == [.commit])
        #expect(restarted.markers.calls.first?.partitions == [topicA, topicB])
        #expect(try restarted.persistedStates("crash", store: store).last == .completeCommit)
    }

    @Test func markersAreRetriedUntilWrittenAndTheTransactionCompletesOnlyThen() async throws {
        let h = try await Harness(markers: RecordingMarkerWriter(failures: 3))
        let id = try await h.coordinator.initProducerId(transactionalId: "r", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "r", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        _ = try await h.coordinator.endTransaction(transactionalId: "r", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .abort).get()
        // While markers are outstanding a new transaction waits for them (bounded: on a slow machine the
        // retries may outlast the wait, and the client is told to retry).
        let early = await h.coordinator.addPartitions(transactionalId: "r", producerId: id.producerId, producerEpoch: id.epoch,
                                                      partitions: [topicA])
        #expect(early == .none || early == .concurrentTransactions)
        try await eventually("the abort to complete") { try h.persistedStates("r").contains(.completeAbort) }
        #expect(h.markers.calls.count == 4)
        let states = try h.persistedStates("r")
        #expect(Array(states.prefix(4)) == [.empty, .ongoing, .prepareAbort, .completeAbort])
        #expect(states.count == (early == .none ? 5 : 4))
    }

    @Test func requestsOutsideTheStateMachineGetKafkasCodes() async throws {
        let h = try await Harness()
        #expect(await h.coordinator.initProducerId(transactionalId: "", timeoutMs: 1000, expected: nil)
            == .failure(TransactionError(.invalidRequest)))
        #expect(await h.coordinator.initProducerId(transactionalId: "x", timeoutMs: 60_001, expected: nil)
            == .failure(TransactionError(.invalidTransactionTimeout)))
        #expect(await h.coordinator.initProducerId(transactionalId: "x", timeoutMs: 0, expected: nil)
            == .failure(TransactionError(.invalidTransactionTimeout)))
        #expect(await h.coordinator.endTransaction(transactionalId: "unknown", producerId: 1, producerEpoch: 0, result: .commit)
            == .failure(TransactionError(.invalidProducerIdMapping)))
        let id = try await h.coordinator.initProducerId(transactionalId: "x", timeoutMs: 1000, expected: nil).get()
        #expect(await h.coordinator.endTransaction(transactionalId: "x", producerId: id.producerId, producerEpoch: id.epoch,
                                                   result: .commit) == .failure(TransactionError(.invalidTxnState)))
        #expect(await h.coordinator.endTransaction(transactionalId: "x", producerId: id.producerId, producerEpoch: id.epoch + 1,
                                                   result: .commit) == .failure(TransactionError(.producerFenced)))
        #expect(await h.coordinator.addPartitions(transactionalId: "x", producerId: id.producerId + 1, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .invalidProducerIdMapping)
        // Without a transactional id: a fresh producer id each time, epoch 0.
        let a = try await h.coordinator.initProducerId(transactionalId: nil, timeoutMs: 0, expected: nil).get()
        let b = try await h.coordinator.initProducerId(transactionalId: nil, timeoutMs: 0, expected: nil).get()
        #expect(a.epoch == 0 && b.epoch == 0 && a.producerId != b.producerId)
    }

    @Test func aFailedLogWriteLeavesTheStateUnchanged() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "f", timeoutMs: 30_000, expected: nil).get()
        h.store.failAppends(with: TransactionLogStoreError(.coordinatorNotAvailable, "disk"))
        #expect(await h.coordinator.addPartitions(transactionalId: "f", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .coordinatorNotAvailable)
        #expect(await h.coordinator.metadata(of: "f")?.state == .empty)
        #expect(h.coordinator.verifyNow(transactionalId: "f", producerId: id.producerId, producerEpoch: id.epoch,
                                        partition: topicA) == .transactionAbortable)
        h.store.failAppends(with: nil)
        #expect(await h.coordinator.addPartitions(transactionalId: "f", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
    }

    @Test func idleTransactionalIdsExpireWithATombstone() async throws {
        let h = try await Harness()
        _ = try await h.coordinator.initProducerId(transactionalId: "old", timeoutMs: 30_000, expected: nil).get()
        h.clock.advance(3_600_000)
        await h.coordinator.runTimers()
        #expect(await h.coordinator.metadata(of: "old") == nil)
        #expect(try h.persistedStates("old").last == .some(nil))
        #expect(await h.coordinator.describe("old") == .failure(TransactionError(.transactionalIdNotFound)))
    }

    @Test func listAndDescribeShowOpenTransactions() async throws {
        let h = try await Harness()
        let id = try await h.coordinator.initProducerId(transactionalId: "open-1", timeoutMs: 30_000, expected: nil).get()
        _ = try await h.coordinator.initProducerId(transactionalId: "idle-1", timeoutMs: 30_000, expected: nil).get()
        #expect(await h.coordinator.addPartitions(transactionalId: "open-1", producerId: id.producerId, producerEpoch: id.epoch,
                                                  partitions: [topicA]) == .none)
        let ongoing = try await h.coordinator.list(states: ["Ongoing", "Bogus"], producerIds: [], durationMs: -1, pattern: nil).get()
        #expect(ongoing.listings.map(\.transactionalId) == ["open-1"])
        #expect(ongoing.unknownStates == ["Bogus"])
        let byPattern = try await h.coordinator.list(states: [], producerIds: [], durationMs: -1, pattern: "idle-.*").get()
        #expect(byPattern.listings.map(\.transactionalId) == ["idle-1"])
        let badPattern = await h.coordinator.list(states: [], producerIds: [], durationMs: -1, pattern: "(")
        guard case .failure(let error) = badPattern else {
            Issue.record("an invalid pattern was accepted")
            return
        }
        #expect(error.code == .invalidRegularExpression)
        let described = try await h.coordinator.describe("open-1").get()
        #expect(described.partitions == [topicA])
        #expect(described.state == .ongoing)
    }

    @Test func logRecordsRoundTripInBothValueVersions() throws {
        for version: Int16 in [0, 2] {
            let metadata = TransactionMetadata(
                transactionalId: "codec", producerId: 42, producerEpoch: 7, timeoutMs: 60_000, state: .prepareCommit,
                partitions: [topicA, topicB, TopicPartition(topic: "a", partition: 3)], startTimestampMs: 10,
                lastUpdateTimestampMs: 20, clientTransactionVersion: version)
            let record = try TransactionLogCodec.record(metadata)
            #expect(record.value?.getInteger(at: 0, as: Int16.self) == (version >= 2 ? 1 : 0))
            let (id, decoded) = try TransactionLogCodec.decode(record)
            #expect(id == "codec")
            #expect(decoded == metadata)
        }
        let (id, tombstone) = try TransactionLogCodec.decode(try TransactionLogCodec.tombstone("gone"))
        #expect(id == "gone" && tombstone == nil)
        var garbage = ByteBuffer()
        garbage.writeInteger(Int16(0))
        garbage.writeInteger(Int16(400))  // a string length past the end
        #expect(throws: TransactionLogCodecError.self) {
            _ = try TransactionLogCodec.decode(TransactionLogRecord(key: garbage, value: nil))
        }
    }
}
