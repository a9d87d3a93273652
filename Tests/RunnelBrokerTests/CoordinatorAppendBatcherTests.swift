// Tests of CoordinatorAppendBatcher: one write in flight per partition, everything queued behind it
// coalesced into the next write in submission order, completions only when their write completes.
import KafkaProtocol
import NIOCore
import RunnelGroups
import Synchronization
import Testing
@testable import RunnelBroker

/// A write the test completes by hand, recording what each write carried.
final class ManualWrites: Sendable {
    private let state = Mutex<[(partition: Int32, records: [GroupLogRecord], producer: GroupLogProducer?,
                                done: CoordinatorAppendBatcher.Completion)]>([])

    var count: Int { state.withLock { $0.count } }

    func keys(ofWrite index: Int) -> [String] {
        state.withLock { $0[index].records.map { String(buffer: $0.key) } }
    }

    func partition(ofWrite index: Int) -> Int32 { state.withLock { $0[index].partition } }

    func producer(ofWrite index: Int) -> GroupLogProducer? { state.withLock { $0[index].producer } }

    func complete(_ index: Int, with result: Result<Void, GroupLogStoreError> = .success(())) {
        let done = state.withLock { $0[index].done }
        done(result)
    }

    var write: CoordinatorAppendBatcher.Write {
        { partition, records, producer, done in
            self.state.withLock { $0.append((partition, records, producer, done)) }
        }
    }
}

/// Completion results, by submission name.
final class Outcomes: Sendable {
    private let results = Mutex<[String: Result<Void, GroupLogStoreError>]>([:])

    func callback(_ name: String) -> CoordinatorAppendBatcher.Completion {
        { result in self.results.withLock { $0[name] = result } }
    }

    func succeeded(_ name: String) -> Bool {
        results.withLock { if case .success? = $0[name] { true } else { false } }
    }

    func failure(_ name: String) -> ErrorCode? {
        results.withLock { if case .failure(let error)? = $0[name] { error.errorCode } else { nil } }
    }

    func isPending(_ name: String) -> Bool { results.withLock { $0[name] == nil } }
}

private func record(_ key: String, size: Int = 0) -> [GroupLogRecord] {
    [GroupLogRecord(key: ByteBuffer(string: key), value: ByteBuffer(repeating: 0, count: size))]
}

@Suite struct CoordinatorAppendBatcherTests {
    @Test func submissionsQueuedBehindAWriteGoOutTogetherInOrderWhenItCompletes() {
        let writes = ManualWrites()
        let outcomes = Outcomes()
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 1 << 20 }, write: writes.write)
        batcher.submit(partition: 3, records: record("a"), completion: outcomes.callback("a"))
        batcher.submit(partition: 3, records: record("b"), completion: outcomes.callback("b"))
        batcher.submit(partition: 3, records: record("c"), completion: outcomes.callback("c"))
        // One write in flight; b and c wait, unanswered.
        #expect(writes.count == 1)
        #expect(writes.keys(ofWrite: 0) == ["a"])
        #expect(batcher.queuedCount(partition: 3) == 2)
        #expect(outcomes.isPending("a") && outcomes.isPending("b"))
        writes.complete(0)
        #expect(outcomes.succeeded("a"))
        #expect(outcomes.isPending("b") && outcomes.isPending("c"))
        #expect(writes.count == 2)
        #expect(writes.keys(ofWrite: 1) == ["b", "c"])
        writes.complete(1)
        #expect(outcomes.succeeded("b") && outcomes.succeeded("c"))
        // Idle again: the next submission is written at once.
        batcher.submit(partition: 3, records: record("d"), completion: outcomes.callback("d"))
        #expect(writes.count == 3)
        #expect(writes.keys(ofWrite: 2) == ["d"])
    }

    @Test func partitionsHaveIndependentLanes() {
        let writes = ManualWrites()
        let outcomes = Outcomes()
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 1 << 20 }, write: writes.write)
        batcher.submit(partition: 0, records: record("x"), completion: outcomes.callback("x"))
        batcher.submit(partition: 1, records: record("y"), completion: outcomes.callback("y"))
        #expect(writes.count == 2)
        #expect(writes.partition(ofWrite: 0) == 0 && writes.partition(ofWrite: 1) == 1)
        writes.complete(1)
        #expect(outcomes.succeeded("y"))
        #expect(outcomes.isPending("x"))
    }

    @Test func aFailedWriteFailsEverySubmissionItCarriedAndTheQueueStillDrains() {
        let writes = ManualWrites()
        let outcomes = Outcomes()
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 1 << 20 }, write: writes.write)
        batcher.submit(partition: 0, records: record("a"), completion: outcomes.callback("a"))
        batcher.submit(partition: 0, records: record("b"), completion: outcomes.callback("b"))
        batcher.submit(partition: 0, records: record("c"), completion: outcomes.callback("c"))
        writes.complete(0)
        writes.complete(1, with: .failure(GroupLogStoreError(.coordinatorNotAvailable, "disk")))
        #expect(outcomes.succeeded("a"))
        #expect(outcomes.failure("b") == .coordinatorNotAvailable)
        #expect(outcomes.failure("c") == .coordinatorNotAvailable)
        batcher.submit(partition: 0, records: record("d"), completion: outcomes.callback("d"))
        #expect(writes.count == 3)
        writes.complete(2)
        #expect(outcomes.succeeded("d"))
    }

    @Test func coalescedWritesStayUnderTheByteLimitButALargeSubmissionStillGoesAlone() {
        let writes = ManualWrites()
        let outcomes = Outcomes()
        // Each record counts its key, its value and the per-record framing allowance (24 bytes).
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 200 }, write: writes.write)
        batcher.submit(partition: 0, records: record("first"), completion: outcomes.callback("first"))
        batcher.submit(partition: 0, records: record("b", size: 51), completion: outcomes.callback("b"))
        batcher.submit(partition: 0, records: record("c", size: 99), completion: outcomes.callback("c"))
        batcher.submit(partition: 0, records: record("d", size: 10), completion: outcomes.callback("d"))
        batcher.submit(partition: 0, records: record("huge", size: 500), completion: outcomes.callback("huge"))
        writes.complete(0)
        // b (76 bytes) + c (124 bytes) fill 200; d waits for the next write.
        #expect(writes.keys(ofWrite: 1) == ["b", "c"])
        writes.complete(1)
        #expect(writes.keys(ofWrite: 2) == ["d"])
        writes.complete(2)
        #expect(writes.keys(ofWrite: 3) == ["huge"])
        writes.complete(3)
        #expect(["first", "b", "c", "d", "huge"].allSatisfy { outcomes.succeeded($0) })
    }

    @Test func aWriteThatCompletesSynchronouslyLeavesTheLaneIdle() {
        let outcomes = Outcomes()
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 1 << 20 }) { _, _, _, done in done(.success(())) }
        for name in ["a", "b", "c"] {
            batcher.submit(partition: 0, records: record(name), completion: outcomes.callback(name))
        }
        #expect(["a", "b", "c"].allSatisfy { outcomes.succeeded($0) })
        #expect(batcher.queuedCount(partition: 0) == 0)
    }

    @Test func transactionalSubmissionsAreWrittenOnlyWithTheSameProducersRecords() {
        let writes = ManualWrites()
        let outcomes = Outcomes()
        let batcher = CoordinatorAppendBatcher(maxBatchBytes: { _ in 1 << 20 }, write: writes.write)
        let txn = GroupLogProducer(producerId: 7, producerEpoch: 1)
        let other = GroupLogProducer(producerId: 8, producerEpoch: 0)
        batcher.submit(partition: 0, records: record("first"), completion: outcomes.callback("first"))
        batcher.submit(partition: 0, records: record("plain1"), completion: outcomes.callback("plain1"))
        batcher.submit(partition: 0, records: record("t1"), producer: txn, completion: outcomes.callback("t1"))
        batcher.submit(partition: 0, records: record("t2"), producer: txn, completion: outcomes.callback("t2"))
        batcher.submit(partition: 0, records: record("o1"), producer: other, completion: outcomes.callback("o1"))
        batcher.submit(partition: 0, records: record("plain2"), completion: outcomes.callback("plain2"))
        writes.complete(0)
        // Queued plain records go together, but stop at the first transactional submission.
        #expect(writes.keys(ofWrite: 1) == ["plain1"])
        #expect(writes.producer(ofWrite: 1) == nil)
        writes.complete(1)
        // One producer's consecutive submissions share its transactional batch; another producer's do not.
        #expect(writes.keys(ofWrite: 2) == ["t1", "t2"])
        #expect(writes.producer(ofWrite: 2) == txn)
        writes.complete(2)
        #expect(writes.keys(ofWrite: 3) == ["o1"])
        #expect(writes.producer(ofWrite: 3) == other)
        writes.complete(3)
        #expect(writes.keys(ofWrite: 4) == ["plain2"])
        #expect(writes.producer(ofWrite: 4) == nil)
        writes.complete(4)
        #expect(["first", "plain1", "t1", "t2", "o1", "plain2"].allSatisfy { outcomes.succeeded($0) })
    }
}
