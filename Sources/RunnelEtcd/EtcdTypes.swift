// The values etcd's KV, lease and watch calls take and return, independent of the wire encoding.
import Foundation

/// One key and its value as etcd stores it, with etcd's revisions.
public struct EtcdKeyValue: Sendable, Equatable {
    /// The key (Runnel's keys are UTF-8 paths).
    public var key: String
    /// The value bytes (empty for a delete event).
    public var value: Data
    /// Revision of the key's creation; changes when the key is deleted and created again.
    public var createRevision: Int64
    /// Revision of the key's last change.
    public var modRevision: Int64
    /// Number of changes since creation (1 after the first put; 0 once deleted).
    public var version: Int64
    /// The lease the key is attached to, 0 for none.
    public var lease: Int64

    /// Creates a key-value.
    public init(key: String, value: Data, createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0,
                lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// Which keys a range, delete or watch covers.
public struct EtcdKeyRange: Sendable, Equatable, CustomStringConvertible {
    /// The first key.
    public var key: String
    /// One past the last key (etcd's `range_end`); nil for the single key `key`.
    public var rangeEnd: [UInt8]?

    /// Exactly `key`.
    public static func key(_ key: String) -> EtcdKeyRange { EtcdKeyRange(key: key, rangeEnd: nil) }

    /// Every key starting with `prefix`.
    public static func prefix(_ prefix: String) -> EtcdKeyRange {
        EtcdKeyRange(key: prefix, rangeEnd: prefixEnd(Array(prefix.utf8)))
    }

    /// The smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`).
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]  // every key
    }

    public var description: String { rangeEnd == nil ? key : key + "*" }
}

/// A condition of a transaction on one key (etcd's `Compare`).
public struct EtcdCompare: Sendable, Equatable {
    /// What is compared.
    public enum Target: Sendable, Equatable {
        /// The key's version (0 when the key does not exist).
        case version(Int64)
        /// The key's create revision (0 when the key does not exist).
        case createRevision(Int64)
        /// The key's mod revision (0 when the key does not exist).
        case modRevision(Int64)
        /// The key's value bytes.
        case value(Data)
        /// The key's lease id.
        case lease(Int64)
    }

    /// How the key's current value relates to the target.
    public enum Result: String, Sendable, Equatable {
        case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL"
    }

    /// The key compared.
    public var key: String
    /// The relation.
    public var result: Result
    /// The field and its expected value.
    public var target: Target

    /// Creates a comparison.
    public init(key: String, _ result: Result = .equal, _ target: Target) {
        self.key = key
        self.result = result
        self.target = target
    }

    /// The key does not exist.
    public static func absent(_ key: String) -> EtcdCompare { EtcdCompare(key: key, .equal, .createRevision(0)) }

    /// The key was last changed at `revision` (0: it does not exist).
    public static func unchanged(_ key: String, since revision: Int64) -> EtcdCompare {
        EtcdCompare(key: key, .equal, .modRevision(revision))
    }
}

/// One operation inside a transaction branch.
public enum EtcdOperation: Sendable, Equatable {
    /// Write `value` at `key`, attached to `lease` (0: none).
    case put(key: String, value: Data, lease: Int64 = 0)
    /// Delete the keys of the range.
    case delete(EtcdKeyRange)
    /// Read the keys of the range.
    case range(EtcdKeyRange)
}

/// A transaction: if every comparison holds, the success operations run, else the failure ones — atomically.
public struct EtcdTransaction: Sendable, Equatable {
    /// The conditions (all must hold).
    public var compare: [EtcdCompare]
    /// Run when all conditions hold.
    public var success: [EtcdOperation]
    /// Run otherwise.
    public var failure: [EtcdOperation]

    /// Creates a transaction.
    public init(compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

/// The result of one operation of the branch that ran.
public enum EtcdOperationResult: Sendable, Equatable {
    /// A put, with the revision it created.
    case put
    /// A delete and how many keys it removed.
    case delete(deleted: Int64)
    /// A range and the keys it found.
    case range([EtcdKeyValue])
}

/// What a transaction did.
public struct EtcdTransactionResult: Sendable, Equatable {
    /// True when the comparisons held and the success branch ran.
    public var succeeded: Bool
    /// The store's revision after the transaction (the revision of its writes when it wrote).
    public var revision: Int64
    /// One result per operation of the branch that ran.
    public var results: [EtcdOperationResult]

    /// The keys found by the branch's range operations, in order.
    public var rangedKeyValues: [EtcdKeyValue] {
        results.flatMap { result -> [EtcdKeyValue] in
            if case .range(let kvs) = result { return kvs }
            return []
        }
    }
}

/// The keys a range found, at the revision it read.
public struct EtcdRangeResult: Sendable, Equatable {
    /// The keys, in key order.
    public var keyValues: [EtcdKeyValue]
    /// The store's revision the range was read at.
    public var revision: Int64
}

/// A lease etcd granted.
public struct EtcdLease: Sendable, Equatable {
    /// The lease id, to attach keys to.
    public var id: Int64
    /// The time to live etcd granted (it may raise a too-small request to its minimum).
    public var ttl: Duration
}

/// One change a watch reports.
public struct EtcdEvent: Sendable, Equatable {
    /// Put or delete.
    public enum Kind: Sendable, Equatable { case put, delete }
    /// Put or delete.
    public var kind: Kind
    /// The key after the change (for a delete: the key and the delete's mod revision, no value).
    public var keyValue: EtcdKeyValue

    /// Creates an event.
    public init(kind: Kind, keyValue: EtcdKeyValue) {
        self.kind = kind
        self.keyValue = keyValue
    }
}

/// The events of one or more whole revisions, as one watch response carries them.
public struct EtcdWatchBatch: Sendable, Equatable {
    /// The events, in revision order.
    public var events: [EtcdEvent]
    /// The revision of the store when etcd sent the batch.
    public var headerRevision: Int64
}
