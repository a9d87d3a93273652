// CoordinatorRecord: one keyed record of a coordinator's internal topic (`__consumer_offsets`,
// `__transaction_state`), and why such a topic could not be written or read — shared by the group and
// the transaction coordinators and the broker stores behind them.
import NIOCore

/// A key and a value, or a tombstone (nil value) that compaction turns into the key's deletion.
public struct CoordinatorRecord: Sendable, Equatable {
    public var key: ByteBuffer
    public var value: ByteBuffer?

    public init(key: ByteBuffer, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }
}

/// Why a coordinator's log could not be written or read, with the Kafka error the client should see
/// (Kafka maps such failures to COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS
/// or UNKNOWN_SERVER_ERROR).
public struct CoordinatorLogError: Error, Sendable, CustomStringConvertible {
    public var errorCode: ErrorCode
    public var message: String

    public init(_ errorCode: ErrorCode, _ message: String) {
        self.errorCode = errorCode
        self.message = message
    }

    public var description: String { "\(errorCode.name): \(message)" }
}
