// What the transaction coordinator needs from the broker, as protocols the broker implements: its log
// (`__transaction_state`), the marker path to partitions, producer ids and the time. In-memory versions
// serve the module's tests.
import Foundation
import KafkaProtocol
import NIOCore
import Synchronization

/// One record of `__transaction_state` (a key and a value, or a tombstone).
public typealias TransactionLogRecord = CoordinatorRecord

/// Why `__transaction_state` could not be written or read, with the Kafka error the client should see.
public typealias TransactionLogStoreError = CoordinatorLogError

/// The partitions of `__transaction_state`.
///
/// `append` queues the records before it returns, in call order, and calls `completion` once they are
/// durable (and, in a cluster, replicated) or have failed. Appends to one partition are durable in the
/// order they were queued: a later append never completes successfully while an earlier one is still
/// in flight, so the coordinator can queue a step without waiting for the one before it (the log stays
/// in the order of the state machine). `load` returns every record still in the partition, oldest first.
public protocol TransactionLogStore: Sendable {
    func append(partition: Int32, records: [TransactionLogRecord],
                completion: @escaping @Sendable (Result<Void, TransactionLogStoreError>) -> Void)
    func load(partition: Int32) async throws(TransactionLogStoreError) -> [TransactionLogRecord]
}

/// One queued `TransactionLogStore.append`, awaited later (or never, by a step that does not wait for it).
final class TransactionLogAppend: Sendable {
    private let state = Mutex<(result: Result<Void, TransactionLogStoreError>?,
                               waiters: [CheckedContinuation<Result<Void, TransactionLogStoreError>, Never>])>((nil, []))

    /// Queues `records` in `partition` of `store` now.
    init(store: any TransactionLogStore, partition: Int32, records: [TransactionLogRecord]) {
        store.append(partition: partition, records: records) { [self] result in complete(result) }
    }

    private func complete(_ result: Result<Void, TransactionLogStoreError>) {
        let waiters = state.withLock { state in
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    /// The outcome, once the records are durable or failed.
    func result() async -> Result<Void, TransactionLogStoreError> {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.result == nil { state.waiters.append(continuation) }
                return state.result
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// One transaction's markers: the request the coordinator sends to the leaders of its partitions
/// (WriteTxnMarkers), or hands to the in-process path on one node.
public struct TransactionMarkers: Sendable, Equatable {
    public var producerId: Int64
    public var producerEpoch: Int16
    public var coordinatorEpoch: Int32
    public var result: TransactionResult
    public var partitions: Set<TopicPartition>

    public init(producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32, result: TransactionResult,
                partitions: Set<TopicPartition>) {
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.coordinatorEpoch = coordinatorEpoch
        self.result = result
        self.partitions = partitions
    }
}

/// Writes COMMIT/ABORT control batches. Returns the error per partition (`.none` when the marker is
/// durable there). The coordinator retries partitions that failed with a retriable error and drops
/// partitions whose topic no longer exists, as Kafka's marker channel does.
public protocol TransactionMarkerWriter: Sendable {
    func write(_ markers: TransactionMarkers) async -> [TopicPartition: ErrorCode]
}

/// Allocates producer ids (the broker's metadata store: unique across restarts and nodes).
public protocol ProducerIdSource: Sendable {
    func nextProducerId() throws -> Int64
}

/// Wall-clock milliseconds, injectable for tests.
public protocol TransactionClock: Sendable {
    func nowMs() -> Int64
}

/// The system wall clock.
public struct SystemTransactionClock: TransactionClock {
    public init() {}
    public func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// A `TransactionLogStore` in memory, with failure injection and, for tests of pipelined steps, appends
/// that can be held in flight (queued in order, completed in order when released).
public final class InMemoryTransactionLogStore: TransactionLogStore {
    private typealias Completion = @Sendable (Result<Void, TransactionLogStoreError>) -> Void
    private struct State {
        var partitions: [Int32: [TransactionLogRecord]] = [:]
        var failure: TransactionLogStoreError?
        var holding = false
        var held: [(result: Result<Void, TransactionLogStoreError>, completion: Completion)] = []
    }
    private let state = Mutex<State>(State())

    public init() {}

    public func append(partition: Int32, records: [TransactionLogRecord],
                       completion: @escaping @Sendable (Result<Void, TransactionLogStoreError>) -> Void) {
        let ready: Result<Void, TransactionLogStoreError>? = state.withLock { state in
            let result: Result<Void, TransactionLogStoreError>
            if let failure = state.failure {
                result = .failure(failure)
            } else {
                state.partitions[partition, default: []].append(contentsOf: records)
                result = .success(())
            }
            guard state.holding else { return result }
            state.held.append((result, completion))
            return nil
        }
        if let ready { completion(ready) }
    }

    /// While holding, appends are queued (visible in `records(in:)`) but not completed.
    public func holdAppends() { state.withLock { $0.holding = true } }

    /// Completes every held append, oldest first, and stops holding.
    public func releaseAppends() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for (result, completion) in held { completion(result) }
    }

    /// How many appends are held.
    public var heldAppends: Int { state.withLock { $0.held.count } }

    public func load(partition: Int32) async throws(TransactionLogStoreError) -> [TransactionLogRecord] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Makes every append fail with `error` (nil restores normal appends).
    public func failAppends(with error: TransactionLogStoreError?) { state.withLock { $0.failure = error } }

    /// Every record appended to `partition`, oldest first.
    public func records(in partition: Int32) -> [TransactionLogRecord] { state.withLock { $0.partitions[partition] ?? [] } }
}
