// GroupLoadSummary: what loading `__consumer_offsets` partitions into the coordinator found, for the
// broker's start-up log line and for tests.

/// Counts from loading one or more `__consumer_offsets` partitions.
public struct GroupLoadSummary: Sendable, Equatable {
    /// Partitions loaded.
    public var partitions = 0
    /// Data records read (every record still in the log, superseded ones included; markers not counted).
    public var records = 0
    /// Groups created from the records (with members, or with committed offsets only).
    public var groups = 0
    /// Committed offsets restored, over all groups.
    public var offsets = 0
    /// Records that could not be decoded and were skipped.
    public var undecodableRecords = 0
    /// Transactional offsets still pending (their transaction has no COMMIT/ABORT marker yet).
    public var pendingTransactionalOffsets = 0

    public init() {}

    /// Adds another load's counts to these.
    public mutating func add(_ other: GroupLoadSummary) {
        partitions += other.partitions
        records += other.records
        groups += other.groups
        offsets += other.offsets
        undecodableRecords += other.undecodableRecords
        pendingTransactionalOffsets += other.pendingTransactionalOffsets
    }
}
