// TransactionCoordinator: Kafka's transaction coordinator (KIP-98) — owns the transactional ids of the
// `__transaction_state` partitions this broker leads, runs their state machine
// (Empty → Ongoing → PrepareCommit/PrepareAbort → CompleteCommit/CompleteAbort), persists every step
// before acting on it (the completion: queued ahead of every later step), and drives the markers.
// Requests are in +Requests (wire translation is in TransactionRequests), markers, the completion,
// timers and loading in +Lifecycle; here: persistence and waiting for a busy id.
import KafkaProtocol
import Logging
import Synchronization

/// Settings of the coordinator, given by the broker from its settings table.
public struct TransactionCoordinatorConfig: Sendable {
    /// `transaction.state.log.num.partitions`.
    public var transactionStatePartitions: Int32
    /// `offsets.topic.num.partitions` (AddOffsetsToTxn adds the group's `__consumer_offsets` partition).
    public var offsetsTopicPartitions: Int32
    /// `transaction.max.timeout.ms`.
    public var maxTimeoutMs: Int32
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    public var abortTimedOutIntervalMs: Int64
    /// `transactional.id.expiration.ms`.
    public var transactionalIdExpirationMs: Int64
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    public var removeExpiredIntervalMs: Int64
    /// First delay before a failed marker or completion write is retried (doubles up to 1 s).
    public var retryBackoffMs: Int64
    /// How long a request that meets a transaction still completing (a step's write in flight, markers
    /// being written) waits for it before answering CONCURRENT_TRANSACTIONS. Clients back off 20–100 ms
    /// on that error, far longer than a completion usually takes.
    public var busyWaitMs: Int64

    public init(transactionStatePartitions: Int32, offsetsTopicPartitions: Int32, maxTimeoutMs: Int32,
                abortTimedOutIntervalMs: Int64, transactionalIdExpirationMs: Int64, removeExpiredIntervalMs: Int64,
                retryBackoffMs: Int64 = 20, busyWaitMs: Int64 = 500) {
        self.transactionStatePartitions = transactionStatePartitions
        self.offsetsTopicPartitions = offsetsTopicPartitions
        self.maxTimeoutMs = maxTimeoutMs
        self.abortTimedOutIntervalMs = abortTimedOutIntervalMs
        self.transactionalIdExpirationMs = transactionalIdExpirationMs
        self.removeExpiredIntervalMs = removeExpiredIntervalMs
        self.retryBackoffMs = retryBackoffMs
        self.busyWaitMs = busyWaitMs
    }
}

/// A producer id and epoch (the answer of InitProducerId and EndTxn).
public struct ProducerIdAndEpoch: Sendable, Equatable, CustomStringConvertible {
    public var producerId: Int64
    public var epoch: Int16

    public init(producerId: Int64, epoch: Int16) {
        self.producerId = producerId
        self.epoch = epoch
    }

    public var description: String { "\(producerId)/\(epoch)" }
}

/// The transaction coordinator. An actor: operations on transactional ids are sequential; a step that
/// waits for its log write marks the id with a pending state. A request meeting a pending state, or a
/// prepared transaction whose markers are being written, waits for it (up to `busyWaitMs`) and then
/// answers CONCURRENT_TRANSACTIONS if it is still busy (the client retries), as Kafka's coordinator does.
/// Log writes are queued on the actor in call order (`TransactionLogAppend`), so steps of different
/// ids, and a completion followed by the next transaction's first step, are pipelined.
public actor TransactionCoordinator {
    /// Whether a `__transaction_state` partition's ids are served here, and at which coordinator epoch
    /// (the partition's leader epoch: markers carry it, so a deposed coordinator's markers are fenced).
    enum PartitionState: Sendable, Equatable {
        case loading
        case loaded(epoch: Int32)
    }

    /// A transactional id's metadata, and the state it is moving to while that step's log write is
    /// in flight.
    struct Entry: Sendable {
        var metadata: TransactionMetadata
        var pending: TransactionState?
    }

    let config: TransactionCoordinatorConfig
    let store: any TransactionLogStore
    let markers: any TransactionMarkerWriter
    let producerIds: any ProducerIdSource
    let clock: any TransactionClock
    let logger: Logger
    var partitions: [Int32: PartitionState] = [:]
    var entries: [String: Entry] = [:]
    /// Ids whose markers are being written (one task each).
    var markerTasks: [String: Task<Void, Never>] = [:]
    var nextExpiryCheckMs: Int64 = 0
    var timerTask: Task<Void, Never>?
    /// Requests waiting for an id to change (`waitForChange`), by id and token.
    var waiters: [String: [Int: Waiter]] = [:]
    var nextWaiterToken = 0

    /// A suspended request and the task that resumes it at its deadline.
    struct Waiter {
        var continuation: CheckedContinuation<Void, Never>
        var deadline: Task<Void, Never>
    }
    /// The persisted metadata of every id served here, readable without a hop onto the actor: the
    /// produce path verifies a transactional batch synchronously on its event loop (`verifyNow`).
    let view = MetadataView()

    /// A lock-protected copy of the persisted metadata per transactional id.
    final class MetadataView: Sendable {
        private let byId = Mutex<[String: TransactionMetadata]>([:])
        func set(_ id: String, _ metadata: TransactionMetadata?) { byId.withLock { $0[id] = metadata } }
        func get(_ id: String) -> TransactionMetadata? { byId.withLock { $0[id] } }
    }

    public init(config: TransactionCoordinatorConfig, store: any TransactionLogStore,
                markers: any TransactionMarkerWriter, producerIds: any ProducerIdSource,
                clock: any TransactionClock = SystemTransactionClock(),
                logger: Logger = Logger(label: "runnel.transaction-coordinator")) {
        self.config = config
        self.store = store
        self.markers = markers
        self.producerIds = producerIds
        self.clock = clock
        self.logger = logger
    }

    /// The `__transaction_state` partition of `transactionalId`.
    public nonisolated func partition(for transactionalId: String) -> Int32 {
        CoordinatorPartitioner.partition(for: transactionalId, partitionCount: config.transactionStatePartitions)
    }

    /// The error for a request about `transactionalId` this coordinator cannot serve, or nil.
    func coordinatorError(for transactionalId: String) -> ErrorCode? {
        switch partitions[partition(for: transactionalId)] {
        case .loaded: nil
        case .loading: .coordinatorLoadInProgress
        case nil: .notCoordinator
        }
    }

    /// The coordinator epoch of `transactionalId`'s partition, when loaded here.
    func coordinatorEpoch(for transactionalId: String) -> Int32? {
        if case .loaded(let epoch) = partitions[partition(for: transactionalId)] { return epoch }
        return nil
    }

    // MARK: - Persistence

    /// Persists `next` as `transactionalId`'s new metadata: marks the pending state, queues the record,
    /// then once it is durable (if this coordinator still owns the partition at the same epoch) makes it
    /// current. Returns `.none` or the error for the client; on failure the current metadata is unchanged.
    func persist(_ next: TransactionMetadata) async -> ErrorCode {
        let id = next.transactionalId
        guard let epoch = coordinatorEpoch(for: id) else { return coordinatorError(for: id) ?? .notCoordinator }
        guard let record = encode(next) else { return .unknownServerError }
        entries[id]?.pending = next.state
        let written = TransactionLogAppend(store: store, partition: partition(for: id), records: [record])
        defer { wakeWaiters(for: id) }
        if case .failure(let error) = await written.result() {
            entries[id]?.pending = nil
            logger.warning("transaction state write failed", metadata: [
                "transactional_id": "\(id)", "state": "\(next.state)", "error": "\(error)"])
            return error.errorCode
        }
        guard coordinatorEpoch(for: id) == epoch, entries[id] != nil else {
            // The partition moved (or was unloaded) while the write was in flight.
            return .notCoordinator
        }
        entries[id] = Entry(metadata: next, pending: nil)
        view.set(id, next)
        return .none
    }

    /// `metadata`'s `__transaction_state` record, or nil (logged) when it cannot be encoded.
    func encode(_ metadata: TransactionMetadata) -> TransactionLogRecord? {
        do throws(TransactionLogCodecError) {
            return try TransactionLogCodec.record(metadata)
        } catch {
            logger.error("could not encode transaction state", metadata: [
                "transactional_id": "\(metadata.transactionalId)", "error": "\(error)"])
            return nil
        }
    }

    // MARK: - Waiting for a busy id

    /// Whether `id` is completing something that will settle by itself: a step's write in flight, or a
    /// prepared transaction whose markers are being written.
    func isSettling(_ id: String) -> Bool {
        guard let entry = entries[id] else { return false }
        if entry.pending != nil { return true }
        let prepared = entry.metadata.state == .prepareCommit || entry.metadata.state == .prepareAbort
        return prepared && markerTasks[id] != nil
    }

    /// The instant until which a request that arrives now may wait for a settling id.
    func busyWaitDeadline() -> ContinuousClock.Instant { .now + .milliseconds(config.busyWaitMs) }

    /// Suspends until `id`'s entry changes (a step persisted or failed, a transaction completed, the
    /// partition unloaded) or `deadline` passes. Callers re-check everything afterwards.
    func waitForChange(of id: String, until deadline: ContinuousClock.Instant) async {
        guard deadline > .now else { return }
        let token = nextWaiterToken
        nextWaiterToken += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let timer = Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                guard !Task.isCancelled else { return }
                await self?.expireWaiter(id, token)
            }
            waiters[id, default: [:]][token] = Waiter(continuation: continuation, deadline: timer)
        }
    }

    private func expireWaiter(_ id: String, _ token: Int) {
        guard let waiter = waiters[id]?.removeValue(forKey: token) else { return }
        if waiters[id]?.isEmpty == true { waiters[id] = nil }
        waiter.continuation.resume()
    }

    /// Resumes every request waiting on `id`.
    func wakeWaiters(for id: String) {
        guard let woken = waiters.removeValue(forKey: id) else { return }
        for waiter in woken.values {
            waiter.deadline.cancel()
            waiter.continuation.resume()
        }
    }

    // MARK: - Queries used by the broker

    /// The metadata of `transactionalId` if this coordinator owns it (tests, admin).
    public func metadata(of transactionalId: String) -> TransactionMetadata? { entries[transactionalId]?.metadata }

    /// KIP-890 part 1: whether `partitions` are in `transactionalId`'s ongoing transaction at
    /// `producerId`/`producerEpoch` (Kafka's `handleVerifyPartitionsInTransaction`). A partition
    /// not in it answers TRANSACTION_ABORTABLE.
    public func verify(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                       partitions requested: [TopicPartition]) -> [TopicPartition: ErrorCode] {
        if !transactionalId.isEmpty, let error = coordinatorError(for: transactionalId) {
            return Dictionary(requested.map { ($0, error) }, uniquingKeysWith: { first, _ in first })
        }
        return Self.verify(entries[transactionalId]?.metadata, transactionalId: transactionalId,
                           producerId: producerId, producerEpoch: producerEpoch, partitions: requested)
    }

    /// `verify` for one partition, answered from the persisted metadata without waiting for the actor
    /// (the produce path). An id not served here answers INVALID_PRODUCER_ID_MAPPING.
    public nonisolated func verifyNow(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                                      partition: TopicPartition) -> ErrorCode {
        let result = Self.verify(view.get(transactionalId), transactionalId: transactionalId, producerId: producerId,
                                 producerEpoch: producerEpoch, partitions: [partition])
        return result[partition] ?? .unknownServerError
    }

    static func verify(_ metadata: TransactionMetadata?, transactionalId: String, producerId: Int64,
                       producerEpoch: Int16, partitions requested: [TopicPartition]) -> [TopicPartition: ErrorCode] {
        func all(_ code: ErrorCode) -> [TopicPartition: ErrorCode] {
            Dictionary(requested.map { ($0, code) }, uniquingKeysWith: { first, _ in first })
        }
        guard !transactionalId.isEmpty else { return all(.invalidRequest) }
        guard let metadata, metadata.producerId == producerId else { return all(.invalidProducerIdMapping) }
        guard metadata.producerEpoch == producerEpoch else { return all(.producerFenced) }
        if metadata.state == .prepareCommit || metadata.state == .prepareAbort { return all(.concurrentTransactions) }
        return Dictionary(requested.map { partition in
            (partition, metadata.state == .ongoing && metadata.partitions.contains(partition) ? ErrorCode.none : .transactionAbortable)
        }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether `transactionalId`'s ongoing transaction holds `groupId`'s offsets partition (the
    /// precondition of TxnOffsetCommit, set by AddOffsetsToTxn).
    public nonisolated func verifyOffsetCommit(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                                               groupId: String) -> ErrorCode {
        verifyNow(transactionalId: transactionalId, producerId: producerId, producerEpoch: producerEpoch,
                  partition: offsetsPartition(for: groupId))
    }

    /// The `__consumer_offsets` partition of `groupId`.
    public nonisolated func offsetsPartition(for groupId: String) -> TopicPartition {
        TopicPartition(topic: InternalTopics.consumerOffsets,
                       partition: CoordinatorPartitioner.partition(for: groupId, partitionCount: config.offsetsTopicPartitions))
    }
}

extension TransactionCoordinator {
    /// How many requests are waiting for `id` to settle (tests).
    func waitingRequests(for id: String) -> Int { waiters[id]?.count ?? 0 }

    /// Sets `id`'s producer epoch in memory (tests: an exhausted epoch without 32,000 transactions).
    func setEpochForTesting(_ id: String, epoch: Int16) {
        guard var entry = entries[id] else { return }
        entry.metadata.producerEpoch = epoch
        entries[id] = entry
        view.set(id, entry.metadata)
    }
}
