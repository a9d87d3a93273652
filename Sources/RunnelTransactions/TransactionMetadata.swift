// TransactionMetadata: what the coordinator knows about one transactional id — its producer id and
// epoch, the state of its current transaction and the partitions in it — and the transitions between
// states, computed as new values (persisted first, applied after).
import KafkaProtocol

/// Kafka's TransactionState, with the ids written in `__transaction_state` (TransactionStatus) and the
/// names ListTransactions / DescribeTransactions report.
public enum TransactionState: Int8, Sendable, CaseIterable, CustomStringConvertible {
    /// No transaction in progress (after InitProducerId).
    case empty = 0
    /// Partitions or offsets added; records may be in partitions.
    case ongoing = 1
    /// EndTxn(commit) accepted and persisted; markers being written.
    case prepareCommit = 2
    /// EndTxn(abort) (or a timeout or fencing abort) persisted; markers being written.
    case prepareAbort = 3
    /// Every commit marker written.
    case completeCommit = 4
    /// Every abort marker written.
    case completeAbort = 5
    /// Expired; being removed (never persisted as a value: a tombstone is).
    case dead = 6
    /// A new producer fenced the ongoing transaction; the abort that follows bumps the epoch.
    case prepareEpochFence = 7

    /// The name Kafka reports (`TransactionState.stateName`).
    public var name: String {
        switch self {
        case .empty: "Empty"
        case .ongoing: "Ongoing"
        case .prepareCommit: "PrepareCommit"
        case .prepareAbort: "PrepareAbort"
        case .completeCommit: "CompleteCommit"
        case .completeAbort: "CompleteAbort"
        case .dead: "Dead"
        case .prepareEpochFence: "PrepareEpochFence"
        }
    }

    public var description: String { name }

    /// The state named `name` (case-sensitive, as ListTransactions filters are).
    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// States from which no marker is outstanding and a new transaction may start.
    var isComplete: Bool { self == .empty || self == .completeCommit || self == .completeAbort }
}

/// A commit or an abort.
public enum TransactionResult: Sendable, Equatable, CustomStringConvertible {
    case commit
    case abort

    public var description: String { self == .commit ? "COMMIT" : "ABORT" }
}

/// One transactional id's state. A value: transitions return the next value, which the coordinator
/// persists before it replaces the current one.
public struct TransactionMetadata: Sendable, Equatable {
    /// Kafka's `RecordBatch.NO_PRODUCER_EPOCH`.
    public static let noEpoch: Int16 = -1
    /// Kafka's `RecordBatch.NO_PRODUCER_ID`.
    public static let noProducerId: Int64 = -1

    public var transactionalId: String
    public var producerId: Int64
    /// The producer id before the last rotation (KIP-360 retries of a rotation), or -1.
    public var previousProducerId: Int64
    /// Producer id handed out at the end of this transaction (transactions v2 epoch overflow), or -1.
    public var nextProducerId: Int64
    public var producerEpoch: Int16
    /// The epoch before the last bump, so a retried InitProducerId gets the same answer (KIP-360).
    public var lastProducerEpoch: Int16
    public var timeoutMs: Int32
    public var state: TransactionState
    public var partitions: Set<TopicPartition>
    /// When the current transaction started (-1 when none).
    public var startTimestampMs: Int64
    public var lastUpdateTimestampMs: Int64
    /// Transaction version the client uses (0/1: classic; 2: KIP-890 part 2).
    public var clientTransactionVersion: Int16

    public init(transactionalId: String, producerId: Int64, previousProducerId: Int64 = noProducerId,
                nextProducerId: Int64 = noProducerId, producerEpoch: Int16 = noEpoch,
                lastProducerEpoch: Int16 = noEpoch, timeoutMs: Int32, state: TransactionState = .empty,
                partitions: Set<TopicPartition> = [], startTimestampMs: Int64 = -1, lastUpdateTimestampMs: Int64,
                clientTransactionVersion: Int16 = 0) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.previousProducerId = previousProducerId
        self.nextProducerId = nextProducerId
        self.producerEpoch = producerEpoch
        self.lastProducerEpoch = lastProducerEpoch
        self.timeoutMs = timeoutMs
        self.state = state
        self.partitions = partitions
        self.startTimestampMs = startTimestampMs
        self.lastUpdateTimestampMs = lastUpdateTimestampMs
        self.clientTransactionVersion = clientTransactionVersion
    }

    /// An epoch this close to Int16.max leaves no room for the fencing bump: the next InitProducerId
    /// rotates to a new producer id (Kafka's `isEpochExhausted`).
    public static func isEpochExhausted(_ epoch: Int16) -> Bool { epoch >= Int16.max - 1 }

    public var isProducerEpochExhausted: Bool { Self.isEpochExhausted(producerEpoch) }

    // MARK: Transitions (each returns the value to persist)

    /// InitProducerId on a transactional id with no transaction in progress: bump the epoch (Kafka's
    /// `prepareIncrementProducerEpoch`, including KIP-360's expected-epoch retries).
    func incrementingEpoch(timeoutMs: Int32, expectedEpoch: Int16?, nowMs: Int64) -> Result<TransactionMetadata, TransactionError> {
        let bumped = producerEpoch &+ 1
        var next = self
        if let expected = expectedEpoch {
            if producerEpoch == Self.noEpoch || expected == producerEpoch {
                // The producer continues after an error and no other producer took over: bump.
                next.producerEpoch = bumped
                next.lastProducerEpoch = producerEpoch
            } else if expected != lastProducerEpoch {
                return .failure(TransactionError(.producerFenced))
            }
            // expected == lastProducerEpoch: a retry of a bump whose answer was lost gets the same epoch.
        } else {
            next.producerEpoch = bumped
            next.lastProducerEpoch = Self.noEpoch
        }
        next.timeoutMs = timeoutMs
        next.state = .empty
        next.partitions = []
        next.startTimestampMs = -1
        next.lastUpdateTimestampMs = nowMs
        return .success(next)
    }

    /// InitProducerId when the epoch is exhausted: a new producer id at epoch 0.
    func rotatingProducerId(to newProducerId: Int64, timeoutMs: Int32, nowMs: Int64,
                            recordLastEpoch: Bool) -> TransactionMetadata {
        var next = self
        next.previousProducerId = producerId
        next.producerId = newProducerId
        next.producerEpoch = 0
        next.lastProducerEpoch = recordLastEpoch ? producerEpoch : Self.noEpoch
        next.timeoutMs = timeoutMs
        next.state = .empty
        next.partitions = []
        next.startTimestampMs = -1
        next.lastUpdateTimestampMs = nowMs
        return next
    }

    /// Fencing (a new producer, or a timeout) of an ongoing transaction: the epoch is bumped so the old
    /// producer's writes and markers are refused, then the transaction is aborted at the new epoch.
    func fencingEpoch(nowMs: Int64) -> TransactionMetadata {
        var next = self
        // At Int16.max the epoch stays: the abort still completes, and the next InitProducerId rotates.
        if producerEpoch < Int16.max { next.producerEpoch = producerEpoch + 1 }
        next.lastProducerEpoch = Self.noEpoch
        next.lastUpdateTimestampMs = nowMs
        return next
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn (or a transactions-v2 produce or TxnOffsetCommit adding its
    /// partition implicitly, `clientTransactionVersion` 2): partitions join the (possibly new) transaction.
    func addingPartitions(_ added: Set<TopicPartition>, clientTransactionVersion: Int16? = nil, nowMs: Int64) -> TransactionMetadata {
        var next = self
        if state != .ongoing {
            next.partitions = []
            next.startTimestampMs = nowMs
            if let clientTransactionVersion { next.clientTransactionVersion = clientTransactionVersion }
        }
        next.partitions.formUnion(added)
        next.state = .ongoing
        next.lastUpdateTimestampMs = nowMs
        return next
    }

    /// EndTxn accepted: PrepareCommit or PrepareAbort.
    func preparing(_ result: TransactionResult, clientTransactionVersion: Int16, nowMs: Int64) -> TransactionMetadata {
        var next = self
        next.state = result == .commit ? .prepareCommit : .prepareAbort
        next.clientTransactionVersion = clientTransactionVersion
        next.lastUpdateTimestampMs = nowMs
        return next
    }

    /// EndTxn of a transactions-v2 client (KIP-890 part 2): PrepareCommit or PrepareAbort at the next
    /// epoch, which the markers carry and the client continues with, so a zombie of this transaction can
    /// never write into the next one. An epoch that cannot be bumped again hands over to
    /// `nextProducerId` (epoch 0) when the transaction completes. `lastProducerEpoch` keeps the epoch
    /// the client ended with, to recognize its retry.
    func preparingWithEpochBump(_ result: TransactionResult, nextProducerId: Int64?, nowMs: Int64) -> TransactionMetadata {
        var next = preparing(result, clientTransactionVersion: 2, nowMs: nowMs)
        next.lastProducerEpoch = producerEpoch
        next.producerEpoch = producerEpoch < Int16.max ? producerEpoch + 1 : producerEpoch
        next.nextProducerId = nextProducerId ?? Self.noProducerId
        return next
    }

    /// The producer id and epoch the client continues with after this transaction ends: the next
    /// producer id at epoch 0 when the epoch overflowed, else the current ones.
    var continuingProducer: ProducerIdAndEpoch {
        nextProducerId != Self.noProducerId
            ? ProducerIdAndEpoch(producerId: nextProducerId, epoch: 0)
            : ProducerIdAndEpoch(producerId: producerId, epoch: producerEpoch)
    }

    /// Every marker written: CompleteCommit or CompleteAbort, no partitions left; a transactions-v2
    /// epoch overflow moves to the next producer id here.
    func completing(nowMs: Int64) -> TransactionMetadata {
        var next = self
        next.state = state == .prepareCommit ? .completeCommit : .completeAbort
        next.partitions = []
        next.lastUpdateTimestampMs = nowMs
        if nextProducerId != Self.noProducerId {
            next.previousProducerId = producerId
            next.producerId = nextProducerId
            next.nextProducerId = Self.noProducerId
            next.producerEpoch = 0
            next.lastProducerEpoch = Self.noEpoch
        }
        return next
    }
}

/// A Kafka error code as the failure of a coordinator operation.
public struct TransactionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode

    public init(_ code: ErrorCode) { self.code = code }

    public var description: String { code.name }
}
