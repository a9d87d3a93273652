// Value types a `Partition` hands to handlers: errors with their Kafka codes, append outcomes,
// reads as file regions.
import Foundation
import KafkaProtocol
import NIOCore
import RunnelStorage

/// A partition operation's failure, as the client will see it.
struct PartitionError: Error, CustomStringConvertible {
    let errorCode: ErrorCode
    let message: String?
    /// Which batch of the request failed (ProduceResponse RecordErrors, v8+).
    var batchIndex: Int32?
    /// True for failures that are not the client's doing (disk errors): logged at error level.
    var isUnexpected = false

    init(_ errorCode: ErrorCode, _ message: String?, batchIndex: Int32? = nil) {
        self.errorCode = errorCode
        self.message = message
        self.batchIndex = batchIndex
    }

    init(_ storage: StorageError) {
        self.errorCode = ErrorCode(storage)
        self.message = storage.description
        switch storage {
        case .io, .logDirOffline, .partitionOffline: isUnexpected = true
        default: isUnexpected = false
        }
    }

    var description: String { "\(errorCode.name): \(message ?? "")" }
}

/// What a partition calls in cluster mode, set by the replica manager (nothing on a single node).
///
/// The closures live in this struct, never as a `Mutex`'s value themselves: a `withLock` on a
/// `Mutex<(() -> Bool)?>` converts the closure to the generic value's representation and back, and the
/// write-back stores the wrapped closure — two reabstraction thunks more per access, so a hook read on
/// every request grew into a chain hundreds of thousands of calls deep, slowed each call and finally
/// overflowed the stack (decision 0026). A struct's fields keep their concrete representation.
struct ClusterHooks: Sendable {
    /// Whether this broker's cluster registration is live.
    var registrationLive: (@Sendable () -> Bool)?
    /// Writes a leader's ISR change to the metadata store.
    var isrChange: (@Sendable (Partition, IsrChangeRequest) -> Void)?
}

/// Where a successful append landed.
struct AppendOutcome: Sendable {
    var baseOffset: Int64
    /// The last offset appended (acks=all waits until the high watermark passes it).
    var lastOffset: Int64
    /// The broker time stamped into the batch with LogAppendTime, else -1.
    var logAppendTime: Int64
    var logStartOffset: Int64
}

/// A found offset for ListOffsets.
struct TimestampAndOffset: Sendable {
    var timestamp: Int64
    var offset: Int64
    var leaderEpoch: Int32
}

/// An aborted transaction in a fetch answer (read_committed).
struct AbortedTransactionRange: Sendable {
    var producerId: Int64
    var firstOffset: Int64
}

/// A producer's state as DescribeProducers reports it.
struct ActiveProducer: Sendable {
    var producerId: Int64
    var producerEpoch: Int16
    var lastSequence: Int32
    var lastTimestamp: Int64
    var coordinatorEpoch: Int32
    var currentTransactionStartOffset: Int64?
}

/// Keeps a segment file open while a file region referencing its descriptor is being written.
/// The `NIOFileHandle` borrows the descriptor; the `LogFileHandle` owns and eventually closes it.
final class FileRegionLease: @unchecked Sendable {
    // @unchecked: both fields are immutable after init; NIOFileHandle is thread-safe for this use
    // (its descriptor state is atomic) and LogFileHandle is Sendable.
    let file: LogFileHandle
    let handle: NIOFileHandle

    init(file: LogFileHandle) {
        self.file = file
        self.handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.descriptor)
    }

    deinit {
        // Give the descriptor back without closing it: `file` closes it when the last user is gone.
        _ = try? handle.takeDescriptorOwnership()
    }
}

/// The records of one partition in a fetch answer.
enum PartitionRecords: Sendable {
    case empty
    /// File regions to send with sendfile, each with the lease keeping its file open.
    case file([(region: FileRegion, lease: FileRegionLease)])
    /// Slices of the direct path's tail-cache buffers, written as they are (no copy).
    case buffers([ByteBuffer])

    var byteCount: Int {
        switch self {
        case .empty: 0
        case .file(let regions): regions.reduce(0) { $0 + $1.region.readableBytes }
        case .buffers(let buffers): buffers.reduce(0) { $0 + $1.readableBytes }
        }
    }
}

/// What a read returned.
struct PartitionRead: Sendable {
    var records: PartitionRecords
    var abortedTransactions: [AbortedTransactionRange]?
}

extension KafkaUUID {
    /// Foundation's UUID with the same 16 bytes (storage keeps topic ids in `partition.metadata`).
    var foundationUUID: UUID {
        let b = bytes
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                           b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
