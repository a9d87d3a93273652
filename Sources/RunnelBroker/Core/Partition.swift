// One hosted partition: the one place batch headers are validated (client and coordinator appends),
// appends with durable completion, reads as file regions, the parked fetches waiting for its next
// append (woken by the log's append listener, after the log moved its high watermark), and — in
// cluster mode — its replication role: the leader's high watermark over the ISR, follower progress,
// ISR changes and the acks=all produces waiting for the ISR (Partition+Replication.swift).
import Foundation
import KafkaProtocol
import KafkaRecords
import Logging
import NIOCore
import RunnelStorage
import Synchronization

/// A partition this broker hosts: it leads it (on a single node: every partition) or follows its leader.
final class Partition: Sendable {
    let topic: String
    let index: Int32
    let topicId: KafkaUUID
    let log: PartitionLog
    /// This broker's node id.
    let localNode: Int32
    /// True when the high watermark follows the ISR (cluster mode) rather than the local log end.
    let replicated: Bool
    let logger: Logger
    /// The replication role; its lock is taken before the log's, never after.
    let leadership: Mutex<PartitionLeadership>
    /// acks=all produces waiting for the high watermark (leader only).
    let replicationWaiters = ReplicationWaiters()
    /// The cluster-mode hooks (set by the replica manager; none on a single node).
    let clusterHooks = Mutex(ClusterHooks())
    private let settings: Mutex<TopicLogSettings>
    private let waiters = Mutex<[ObjectIdentifier: any AppendWaiter]>([:])
    /// Appends that need CPU-heavy work (recompression) run here, in arrival order.
    private let appendQueue: DispatchQueue
    /// Appends submitted to `appendQueue` and not yet handed to the log.
    private let queuedAppends = Atomic<Int>(0)
    /// The topic's bytes in and out (`runnel_topic_bytes_*_total`).
    let traffic: TopicTrafficMetrics

    /// The current leader epoch (0 on a single node, which never changes leaders).
    var leaderEpoch: Int32 { leadership.withLock { $0.leaderEpoch } }

    /// A partition led by this node alone (single node) until `apply(_:)` says otherwise.
    init(topic: String, index: Int32, topicId: KafkaUUID, log: PartitionLog, settings: TopicLogSettings,
         localNode: Int32 = 0, logger: Logger) {
        self.topic = topic
        self.index = index
        self.topicId = topicId
        self.log = log
        self.localNode = localNode
        self.replicated = log.highWatermarkPolicy == .external
        self.leadership = Mutex(.singleNode(localNode))
        self.settings = Mutex(settings)
        self.appendQueue = DispatchQueue(label: "runnel.append.\(topic)-\(index)")
        self.traffic = TopicTrafficMetrics(topic: topic)
        var logger = logger
        logger[metadataKey: "topic"] = "\(topic)"
        logger[metadataKey: "partition"] = "\(index)"
        self.logger = logger
    }

    /// Starts listening to the log's appends. Called once, by the partition that was kept when two
    /// openers raced for one log (the log has one listener: the loser must not take it).
    func listenToAppends() {
        // The log moves its high watermark when a write completes (single node: to the durable log end
        // offset) and then calls this once; parked fetches re-check from here. A replicated leader moves
        // the high watermark itself (its own end is one of the ISR's).
        log.setAppendListener { [weak self] _ in
            guard let self else { return }
            if self.replicated { self.advanceHighWatermark() }
            self.wakeWaiters()
        }
        // Followers read what is written before it is durable (their fetch and fsync overlap ours).
        log.setWrittenListener { [weak self] _ in
            guard let self, self.replicated else { return }
            self.wakeWaiters()
        }
    }

    /// The topic settings in force.
    var currentSettings: TopicLogSettings { settings.withLock { $0 } }

    var highWatermark: Int64 { log.highWatermark }
    var logStartOffset: Int64 { log.logStartOffset }
    var lastStableOffset: Int64 { log.lastStableOffset }
    var logEndOffset: Int64 { log.logEndOffset }

    func update(settings newSettings: TopicLogSettings) {
        settings.withLock { $0 = newSettings }
        do {
            try log.updateConfig(newSettings.log)
        } catch {
            logger.error("could not apply new topic config to the log", metadata: ["error": "\(error)"])
        }
    }

    func close() {
        replicationWaiters.failAll(.notLeaderOrFollower)
        let parked = waiters.withLock { w -> [any AppendWaiter] in
            defer { w.removeAll() }
            return Array(w.values)
        }
        for waiter in parked { waiter.appended() }
    }

    // MARK: Produce

    /// Validates the batch headers of a produce request's records (or of a coordinator's batch),
    /// recompresses client records when the topic's `compression.type` names another codec, and appends
    /// them. `completion` runs once the batches are durable (or rejected), on the storage I/O thread.
    ///
    /// Recompression decodes and re-encodes whole batches, too much CPU for an event loop that serves
    /// other connections, so on such topics the work runs on this partition's serial append queue (as
    /// Kafka runs it on request-handler threads). Appends keep their arrival order: while anything is
    /// queued, later appends queue behind it, so offsets and producer sequences are assigned in order.
    func append(records: ByteBuffer, origin: AppendOrigin = .client,
                completion: @escaping @Sendable (Result<AppendOutcome, PartitionError>) -> Void) {
        let current = settings.withLock { $0 }
        let recompresses = origin == .client && current.compression != nil
        guard recompresses || queuedAppends.load(ordering: .acquiring) > 0 else {
            appendNow(records: records, origin: origin, settings: current, completion: completion)
            return
        }
        queuedAppends.add(1, ordering: .acquiringAndReleasing)
        appendQueue.async { [self] in
            appendNow(records: records, origin: origin, settings: current, completion: completion)
            queuedAppends.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    private func appendNow(records: ByteBuffer, origin: AppendOrigin, settings current: TopicLogSettings,
                           completion: @escaping @Sendable (Result<AppendOutcome, PartitionError>) -> Void) {
        // The only header check of an append: storage takes the validated batches as they are.
        var options = RecordBatchValidator.Options(origin: origin == .coordinator ? .coordinator : .client,
                                                   maxBatchSize: current.maxMessageBytes, requireSingleBatch: true)
        if origin == .client {
            if current.timestampType == .createTime {
                options.timestampWindow = .init(now: Self.nowMs(), beforeMaxMs: current.timestampBeforeMaxMs,
                                                afterMaxMs: current.timestampAfterMaxMs)
            }
            if current.log.cleanupPolicy.contains(.compact) { options.requireKeys = true }
        }
        let batches: ValidatedBatches
        do throws(RecordBatchError) {
            let validated = try ValidatedBatches.validate(records, options: options)
            if origin == .client, let target = current.compression {
                // compression.type: Kafka re-encodes (and checks record by record) batches in another codec.
                let recompressed = try RecordBatchRecompressor.recompress(
                    records: records, to: target, level: current.compressionLevel(for: target), options: options)
                // The recompressor checked every record; only the rewritten headers are read here.
                var rewritten = options
                rewritten.recordValidation = .headersOnly
                rewritten.requireKeys = false
                rewritten.timestampWindow = nil
                batches = try ValidatedBatches.validate(recompressed, options: rewritten)
            } else {
                batches = validated
            }
        } catch {
            completion(.failure(PartitionError(ErrorCode(rawValue: error.kafkaErrorCode), error.description,
                                               batchIndex: 0)))
            return
        }
        // The epoch stamped into the batches is the one leadership was checked at: a leader that lost
        // its role meanwhile does not append.
        guard leaderCheck() == nil, let epoch = leadership.withLock({ $0.isLeader ? $0.leaderEpoch : nil }) else {
            completion(.failure(PartitionError(.notLeaderOrFollower,
                                               "This broker is not the leader of \(topic)-\(index)", batchIndex: nil)))
            return
        }
        // Coordinators write as Kafka's do, with acks=all: in cluster mode their records (group state,
        // offsets, transaction state, markers) count only once the ISR has them.
        let waitsForIsr = origin == .coordinator && replicated
        let producedBytes = origin == .client ? records.readableBytes : 0
        log.append(batches, leaderEpoch: epoch, origin: origin) { [self] result in
            switch result {
            case .success(let appended):
                if producedBytes > 0 { traffic.bytesIn.increment(by: producedBytes) }
                let outcome = AppendOutcome(baseOffset: appended.baseOffset, lastOffset: appended.lastOffset,
                                            logAppendTime: appended.logAppendTime, logStartOffset: appended.logStartOffset)
                guard waitsForIsr else {
                    completion(.success(outcome))
                    return
                }
                let wait = awaitReplication(through: outcome.lastOffset, minInsync: current.minInsyncReplicas) { code in
                    completion(code == .none ? .success(outcome) : .failure(PartitionError(
                        code, "The coordinator's append was not replicated to the in-sync replicas: \(code.name)")))
                }
                if !wait.isDone {
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Self.coordinatorAppendTimeoutMs)) {
                        wait.finish(.requestTimedOut)
                    }
                }
            case .failure(let error):
                completion(.failure(PartitionError(error)))
            }
        }
    }

    /// Reads the log from its start offset to its end, batch by batch, oldest first (a coordinator
    /// loading its state from an internal topic). Stops at the end offset seen when it started.
    func forEachBatch(_ body: (RecordBatch) throws -> Void) throws {
        var offset = logStartOffset
        let end = logEndOffset
        while offset < end {
            let read = try log.read(from: offset, maxBytes: 4 << 20, isolation: .logEnd, minOneBatch: true)
            guard !read.isEmpty else { break }
            let bytes = try read.readBytes()
            var next = offset
            for batch in try MemoryRecords(bytes).batches() {
                next = max(next, batch.lastOffset + 1)
                try body(batch)
            }
            guard next > offset else { break }
            offset = next
        }
    }

    /// Wakes every parked fetch (the log's append listener, a high watermark move; also on close).
    func wakeWaiters() {
        let parked = waiters.withLock { Array($0.values) }
        for waiter in parked { waiter.appended() }
    }

    // MARK: Fetch

    func addWaiter(_ waiter: any AppendWaiter) {
        waiters.withLock { $0[ObjectIdentifier(waiter)] = waiter }
    }

    func removeWaiter(_ waiter: any AppendWaiter) {
        _ = waiters.withLock { $0.removeValue(forKey: ObjectIdentifier(waiter)) }
    }

    /// Reads from `offset` up to the high watermark (or last stable offset for read_committed; for a
    /// follower replica up to what is written, so its fetch and fsync overlap the leader's fsync).
    func read(from offset: Int64, maxBytes: Int, isolation: IsolationLevel, forReplica: Bool = false,
              minOneBatch: Bool) -> Result<PartitionRead, PartitionError> {
        let bound: FetchIsolation = forReplica ? .written
            : isolation == .readCommitted ? .transactionCommitted : .highWatermark
        let result: LogReadResult
        do throws(StorageError) {
            result = try log.read(from: offset, maxBytes: maxBytes, isolation: bound, minOneBatch: minOneBatch,
                                  readAhead: forReplica)
        } catch {
            return .failure(PartitionError(error))
        }
        var records = PartitionRecords.empty
        if !result.buffers.isEmpty {
            records = .buffers(result.buffers)
        } else if !result.slices.isEmpty {
            records = .file(result.slices.map { slice in
                let lease = FileRegionLease(file: slice.file)
                let region = FileRegion(fileHandle: lease.handle, readerIndex: Int(slice.position),
                                        endIndex: Int(slice.position) + slice.length)
                return (region, lease)
            })
        }
        let aborted = result.abortedTransactions?.map {
            AbortedTransactionRange(producerId: $0.producerId, firstOffset: $0.firstOffset)
        }
        return .success(PartitionRead(records: records, abortedTransactions: aborted))
    }

    // MARK: Offsets

    func checkLeaderEpoch(_ current: Int32) -> ErrorCode? {
        if current > leaderEpoch { return .unknownLeaderEpoch }
        if current >= 0 && current < leaderEpoch { return .fencedLeaderEpoch }
        return nil
    }

    func offset(forTimestamp timestamp: Int64) -> Result<TimestampAndOffset?, PartitionError> {
        lookUp(.timestamp(timestamp))
    }

    func maxTimestampOffset() -> Result<TimestampAndOffset?, PartitionError> {
        lookUp(.maxTimestamp)
    }

    private func lookUp(_ spec: RunnelStorage.ListOffsetsSpec) -> Result<TimestampAndOffset?, PartitionError> {
        do throws(StorageError) {
            guard let found = try log.offset(for: spec) else { return .success(nil) }
            return .success(TimestampAndOffset(timestamp: found.timestamp, offset: found.offset,
                                               leaderEpoch: found.leaderEpoch ?? leaderEpoch))
        } catch {
            return .failure(PartitionError(error))
        }
    }

    func endOffset(forLeaderEpoch epoch: Int32) -> (Int32, Int64) {
        let found = log.endOffset(forLeaderEpoch: epoch)
        return (found.leaderEpoch, found.endOffset)
    }

    func deleteRecords(before offset: Int64) -> Result<Int64, PartitionError> {
        do throws(StorageError) {
            return .success(try log.deleteRecords(before: offset))
        } catch {
            return .failure(PartitionError(error))
        }
    }

    func activeProducers() -> [ActiveProducer] {
        log.activeProducers.map { entry in
            ActiveProducer(producerId: entry.producerId, producerEpoch: entry.producerEpoch,
                           lastSequence: entry.lastSequence, lastTimestamp: entry.lastTimestamp,
                           coordinatorEpoch: entry.coordinatorEpoch, currentTransactionStartOffset: entry.currentTxnFirstOffset)
        }
    }

    /// How long a coordinator's append waits for the ISR (Kafka's offsets.commit.timeout.ms default).
    static let coordinatorAppendTimeoutMs = 5000

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
