// GroupLogStore: how the group coordinator persists its records in `__consumer_offsets`, and an
// in-memory store for tests and for a broker started without durable storage.
import KafkaProtocol
import NIOCore
import Synchronization

/// One record of `__consumer_offsets`: a key and a value, or a tombstone (nil value) that compaction
/// turns into the key's deletion.
public struct GroupLogRecord: Sendable, Equatable {
    public var key: ByteBuffer
    public var value: ByteBuffer?

    public init(key: ByteBuffer, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }
}

/// The partitions of `__consumer_offsets`, as the coordinator needs them. The broker implements this over
/// the real partition logs (record batches appended with acks=all semantics); tests use
/// `InMemoryGroupLogStore`.
///
/// Contract: `append` returns once the records are durable (and, in a cluster, replicated); appends to one
/// partition are applied in the order the calls were made; `load` returns every record still in the
/// partition, oldest first (after compaction, at least the latest record of each key).
///
/// `append` is `nonisolated(nonsending)`: it runs on the caller's executor (the coordinator actor) until
/// it first suspends. An implementation that hands the batch to the log before suspending (as
/// `ConsumerOffsetsLog` does) therefore appends in the coordinator's order, and a commit costs no hop
/// off the actor and back before its write is queued.
public protocol GroupLogStore: Sendable {
    /// Appends `records` to `partition` of `__consumer_offsets` as one batch; durable on return.
    nonisolated(nonsending) func append(partition: Int32, records: [GroupLogRecord]) async throws(GroupLogStoreError)
    /// Reads the whole partition, oldest record first.
    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogRecord]
}

/// Why the coordinator's log could not be written or read, with the Kafka error the client should see.
public struct GroupLogStoreError: Error, Sendable, CustomStringConvertible {
    /// The error code sent to the client for the affected request (Kafka maps storage failures to
    /// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, INVALID_COMMIT_OFFSET_SIZE or UNKNOWN_SERVER_ERROR).
    public var errorCode: ErrorCode
    public var message: String

    public init(_ errorCode: ErrorCode, _ message: String) {
        self.errorCode = errorCode
        self.message = message
    }

    public var description: String { "\(errorCode.name): \(message)" }
}

/// A `GroupLogStore` in memory: appends are kept per partition, in order. Optional failure injection lets
/// tests prove that the coordinator answers with the store's error and keeps its state unchanged.
public final class InMemoryGroupLogStore: GroupLogStore {
    private let state = Mutex<State>(State())

    private struct State {
        var partitions: [Int32: [GroupLogRecord]] = [:]
        var failNextAppends: GroupLogStoreError?
        var appendCount = 0
    }

    public init() {}

    public func append(partition: Int32, records: [GroupLogRecord]) async throws(GroupLogStoreError) {
        let failure: GroupLogStoreError? = state.withLock { state in
            if let failure = state.failNextAppends { return failure }
            state.partitions[partition, default: []].append(contentsOf: records)
            state.appendCount += 1
            return nil
        }
        if let failure { throw failure }
    }

    public func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogRecord] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Makes every append fail with `error` (nil restores normal appends).
    public func failAppends(with error: GroupLogStoreError?) {
        state.withLock { $0.failNextAppends = error }
    }

    /// Every record appended to `partition`, oldest first.
    public func records(in partition: Int32) -> [GroupLogRecord] {
        state.withLock { $0.partitions[partition] ?? [] }
    }

    /// Number of successful appends, across partitions.
    public var appendCount: Int { state.withLock { $0.appendCount } }

    /// Keeps only the latest record per key and drops tombstones, as log compaction would
    /// (with `delete.retention.ms` elapsed).
    public func compact() {
        state.withLock { state in
            for (partition, records) in state.partitions {
                var latest: [ByteBuffer: Int] = [:]
                for (index, record) in records.enumerated() { latest[record.key] = index }
                state.partitions[partition] = records.enumerated().compactMap { index, record in
                    latest[record.key] == index && record.value != nil ? record : nil
                }
            }
        }
    }
}
