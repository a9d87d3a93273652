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

/// The partitions of `__transaction_state`. Contract as the group log store's: `append` returns once the
/// records are durable (and, in a cluster, replicated); `load` returns every record still in the
/// partition, oldest first.
public protocol TransactionLogStore: Sendable {
    func append(partition: Int32, records: [TransactionLogRecord]) async throws(TransactionLogStoreError)
    func load(partition: Int32) async throws(TransactionLogStoreError) -> [TransactionLogRecord]
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

/// A `TransactionLogStore` in memory, with failure injection.
public final class InMemoryTransactionLogStore: TransactionLogStore {
    private let state = Mutex<(partitions: [Int32: [TransactionLogRecord]], failure: TransactionLogStoreError?)>(([:], nil))

    public init() {}

    public func append(partition: Int32, records: [TransactionLogRecord]) async throws(TransactionLogStoreError) {
        let failure: TransactionLogStoreError? = state.withLock { state in
            if let failure = state.failure { return failure }
            state.partitions[partition, default: []].append(contentsOf: records)
            return nil
        }
        if let failure { throw failure }
    }

    public func load(partition: Int32) async throws(TransactionLogStoreError) -> [TransactionLogRecord] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Makes every append fail with `error` (nil restores normal appends).
    public func failAppends(with error: TransactionLogStoreError?) { state.withLock { $0.failure = error } }

    /// Every record appended to `partition`, oldest first.
    public func records(in partition: Int32) -> [TransactionLogRecord] { state.withLock { $0.partitions[partition] ?? [] } }
}
