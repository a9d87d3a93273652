// TransactionVerifier: how the group request layer asks the transaction coordinator whether a
// TxnOffsetCommit's transaction may commit offsets for a group (KIP-890 part 1, Kafka's AddOffsetsToTxn
// precondition), without the group module depending on the transaction module.
import KafkaProtocol
import Synchronization

/// Verifies, before a TxnOffsetCommit is written, that the transaction of `transactionalId` is ongoing with
/// this producer id and epoch and has the group's `__consumer_offsets` partition added (AddOffsetsToTxn,
/// or implicitly with transactions V2). The broker implements it over its transaction coordinator.
public protocol TransactionVerifier: Sendable {
    /// `.none` when the commit may proceed; otherwise the error every partition of the TxnOffsetCommit is
    /// answered with, e.g. INVALID_TXN_STATE (partition not added / transaction not ongoing),
    /// INVALID_PRODUCER_EPOCH or PRODUCER_FENCED (an older epoch; answered as INVALID_PRODUCER_EPOCH, as Kafka
    /// does), TRANSACTION_ABORTABLE (answered as INVALID_TXN_STATE before TxnOffsetCommit v4), or
    /// COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE (retriable).
    /// `addPartition` (TxnOffsetCommit v5, transactions v2): the group's partition is added to the
    /// transaction instead of verified (the client sent no AddOffsetsToTxn).
    func verifyOffsetCommit(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                            groupId: String, addPartition: Bool) async -> ErrorCode
}

/// The verifier a `GroupRequests` and its copies share.
final class TransactionVerifierSlot: Sendable {
    private let slot = Mutex<(any TransactionVerifier)?>(nil)

    var verifier: (any TransactionVerifier)? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}
