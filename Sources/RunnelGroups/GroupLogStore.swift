// GroupLogStore: how the group coordinator persists its records in `__consumer_offsets`, and an
// in-memory store for tests and for a broker started without durable storage.
import KafkaProtocol
import NIOCore
import Synchronization

/// One record of `__consumer_offsets` (a key and a value, or a tombstone).
public typealias GroupLogRecord = CoordinatorRecord

/// The producer of a transactional append (TxnOffsetCommit): its records are written as one transactional
/// batch carrying this producer id and epoch, and stay pending until a COMMIT or ABORT marker of that
/// producer follows them in the partition.
public struct GroupLogProducer: Sendable, Hashable, CustomStringConvertible {
    public var producerId: Int64
    public var producerEpoch: Int16

    public init(producerId: Int64, producerEpoch: Int16) {
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public var description: String { "producer \(producerId) epoch \(producerEpoch)" }
}

/// One entry of a `__consumer_offsets` partition as `GroupLogStore.load` reports it, in log order.
public enum GroupLogEntry: Sendable, Equatable {
    /// A keyed data record; `producerId` is its batch's producer when the batch is transactional, nil for a
    /// plain (non-transactional) batch.
    case record(GroupLogRecord, producerId: Int64?)
    /// A transaction marker (a control batch's COMMIT or ABORT record) of `producerId`.
    case transactionMarker(producerId: Int64, producerEpoch: Int16, commit: Bool)

    /// The data record, or nil for a marker.
    public var record: GroupLogRecord? {
        if case .record(let record, _) = self { record } else { nil }
    }
}

/// The partitions of `__consumer_offsets`, as the coordinator needs them. The broker implements this over
/// the real partition logs (record batches appended with acks=all semantics); tests use
/// `InMemoryGroupLogStore`.
///
/// Contract: `append` returns once the records are durable (and, in a cluster, replicated); appends to one
/// partition are applied in the order the calls were made; `load` returns every entry still in the
/// partition, oldest first (after compaction, at least the latest record of each key): data records with
/// their batch's producer id when the batch is transactional, and the COMMIT/ABORT markers of control
/// batches, so that replay sees transactional offsets and their outcome in log order.
///
/// `append` is `nonisolated(nonsending)`: it runs on the caller's executor (the coordinator actor) until
/// it first suspends. An implementation that hands the batch to the log before suspending (as
/// `ConsumerOffsetsLog` does) therefore appends in the coordinator's order, and a commit costs no hop
/// off the actor and back before its write is queued.
public protocol GroupLogStore: Sendable {
    /// Appends `records` to `partition` of `__consumer_offsets` as one batch; durable on return. With a
    /// `producer` (transactional offset commits), the batch is transactional: written with that producer's
    /// id and epoch and the transactional attribute, never coalesced with other producers' records or plain
    /// records.
    nonisolated(nonsending) func append(partition: Int32, records: [GroupLogRecord],
                                        producer: GroupLogProducer?) async throws(GroupLogStoreError)
    /// Reads the whole partition, oldest entry first: data records and transaction markers.
    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry]
}

/// Why `__consumer_offsets` could not be written or read, with the Kafka error the client should see.
public typealias GroupLogStoreError = CoordinatorLogError

/// A `GroupLogStore` in memory: appends are kept per partition, in order. Optional failure injection lets
/// tests prove that the coordinator answers with the store's error and keeps its state unchanged.
/// `appendTransactionMarker` writes a COMMIT/ABORT marker as the broker's transaction coordinator would.
public final class InMemoryGroupLogStore: GroupLogStore {
    private let state = Mutex<State>(State())

    private struct State {
        var partitions: [Int32: [GroupLogEntry]] = [:]
        var failNextAppends: GroupLogStoreError?
        var appendCount = 0
        var transactionalAppendCount = 0
    }

    public init() {}

    public func append(partition: Int32, records: [GroupLogRecord],
                       producer: GroupLogProducer?) async throws(GroupLogStoreError) {
        let failure: GroupLogStoreError? = state.withLock { state in
            if let failure = state.failNextAppends { return failure }
            state.partitions[partition, default: []].append(contentsOf: records.map {
                .record($0, producerId: producer?.producerId)
            })
            state.appendCount += 1
            if producer != nil { state.transactionalAppendCount += 1 }
            return nil
        }
        if let failure { throw failure }
    }

    public func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Appends a COMMIT (`commit`) or ABORT marker of `producerId` to `partition`, as the transaction
    /// coordinator's WriteTxnMarkers would (markers are written even while appends are made to fail).
    public func appendTransactionMarker(partition: Int32, producerId: Int64, producerEpoch: Int16, commit: Bool) {
        state.withLock {
            $0.partitions[partition, default: []].append(
                .transactionMarker(producerId: producerId, producerEpoch: producerEpoch, commit: commit))
        }
    }

    /// Makes every append fail with `error` (nil restores normal appends).
    public func failAppends(with error: GroupLogStoreError?) {
        state.withLock { $0.failNextAppends = error }
    }

    /// Every data record appended to `partition`, oldest first (transactional or not).
    public func records(in partition: Int32) -> [GroupLogRecord] {
        state.withLock { ($0.partitions[partition] ?? []).compactMap(\.record) }
    }

    /// Every entry of `partition` (data records and markers), oldest first.
    public func entries(in partition: Int32) -> [GroupLogEntry] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Number of successful appends, across partitions.
    public var appendCount: Int { state.withLock { $0.appendCount } }

    /// Number of successful transactional appends, across partitions.
    public var transactionalAppendCount: Int { state.withLock { $0.transactionalAppendCount } }

    /// Compacts as Kafka's log cleaner would (with `delete.retention.ms` elapsed): records of aborted
    /// transactions are removed; below the first record of a still-open transaction (the last stable
    /// offset, beyond which the cleaner does not go) only the latest record per key survives, and
    /// tombstones are dropped; from there on nothing changes. Markers are kept.
    public func compact() {
        state.withLock { state in
            for (partition, entries) in state.partitions {
                state.partitions[partition] = Self.compacted(entries)
            }
        }
    }

    private static func compacted(_ entries: [GroupLogEntry]) -> [GroupLogEntry] {
        // Each transactional record's outcome: the first marker of its producer after it.
        var outcome: [Int: Bool] = [:]
        var open: [Int64: [Int]] = [:]
        for (index, entry) in entries.enumerated() {
            switch entry {
            case .record(_, let producerId?):
                open[producerId, default: []].append(index)
            case .transactionMarker(let producerId, _, let commit):
                for member in open.removeValue(forKey: producerId) ?? [] { outcome[member] = commit }
            case .record(_, nil):
                continue
            }
        }
        let stableEnd = open.values.compactMap(\.first).min() ?? entries.count
        var latest: [ByteBuffer: Int] = [:]
        for (index, entry) in entries[..<stableEnd].enumerated() {
            guard case .record(let record, let producerId) = entry else { continue }
            if producerId != nil && outcome[index] == false { continue }
            latest[record.key] = index
        }
        return entries.enumerated().compactMap { index, entry in
            guard index < stableEnd, case .record(let record, let producerId) = entry else { return entry }
            if producerId != nil && outcome[index] == false { return nil }
            return latest[record.key] == index && record.value != nil ? entry : nil
        }
    }
}
