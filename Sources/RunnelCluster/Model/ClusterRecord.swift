// ClusterRecord: cluster-wide records that are not topics or partitions (topic aliases, ACLs, SCRAM
// credentials, client quotas), kept by the metadata store in one generic keyed namespace per kind, so
// every broker sees the same set and every feature gets compare-and-swap and atomic batches from the
// same mechanism (the local file on one node, etcd keys `<prefix>/records/<kind>/<key>` in a cluster).

/// The namespace of a record (`alias`, `acl`, …): lowercase letters, digits, `_` and `-`.
public struct ClusterRecordKind: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Topic aliases (issue 15).
    public static let alias: ClusterRecordKind = "alias"
    /// Access control lists (issue 13).
    public static let acl: ClusterRecordKind = "acl"
    /// SCRAM credentials: salt, iterations, stored key and server key, never a password (issue 13).
    public static let scramCredential: ClusterRecordKind = "scram"
    /// Client quotas (issue 13).
    public static let quota: ClusterRecordKind = "quota"

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Kinds whose keys are names clients use as topic names (aliases): a record of such a kind and a
    /// topic never share a name. Both stores enforce it in the same atomic step as the write — a topic
    /// created while an alias of its name is created (or the reverse) fails with TOPIC_ALREADY_EXISTS —
    /// so the check the handlers make first cannot be raced.
    public static let topicNameKinds: [ClusterRecordKind] = [.alias]

    /// Whether this kind's keys share the topics' name space (`topicNameKinds`).
    public var sharesTopicNames: Bool { Self.topicNameKinds.contains(self) }

    /// Whether the name is usable as a kind (it is one path segment of an etcd key).
    var isValid: Bool {
        !rawValue.isEmpty && rawValue.utf8.count <= 64
            && rawValue.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }
}

/// One stored record. `value` is the feature's own encoding (JSON text by convention); `version`
/// increases with every write of any record (etcd's mod revision; a persisted counter on one node),
/// so a version seen once is never reused, not even after a delete and a re-create.
public struct ClusterRecord: Sendable, Equatable {
    public var kind: ClusterRecordKind
    public var key: String
    public var value: String
    public var version: Int64

    public init(kind: ClusterRecordKind, key: String, value: String, version: Int64) {
        self.kind = kind
        self.key = key
        self.value = value
        self.version = version
    }
}

/// One change of an atomic `MetadataStore.writeRecords` batch.
public struct ClusterRecordWrite: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// Creates or replaces the record with this value.
        case put(String)
        /// Removes the record (a no-op when it does not exist and no version is expected).
        case delete
    }

    public var kind: ClusterRecordKind
    public var key: String
    public var operation: Operation
    /// The condition for the whole batch: nil = none, 0 = the record must not exist, n = the record
    /// must exist at exactly version n.
    public var expectedVersion: Int64?

    public init(kind: ClusterRecordKind, key: String, operation: Operation, expectedVersion: Int64? = nil) {
        self.kind = kind
        self.key = key
        self.operation = operation
        self.expectedVersion = expectedVersion
    }

    /// Puts `value` under `kind`/`key`, if the record is at `expectedVersion` (see there).
    public static func put(_ kind: ClusterRecordKind, key: String, value: String, expectedVersion: Int64? = nil) -> Self {
        Self(kind: kind, key: key, operation: .put(value), expectedVersion: expectedVersion)
    }

    /// Deletes `kind`/`key`, if the record is at `expectedVersion` (see there).
    public static func delete(_ kind: ClusterRecordKind, key: String, expectedVersion: Int64? = nil) -> Self {
        Self(kind: kind, key: key, operation: .delete, expectedVersion: expectedVersion)
    }

    /// Whether the record found (nil: absent) satisfies this write's condition.
    func accepts(_ current: ClusterRecord?) -> Bool {
        switch expectedVersion {
        case nil: true
        case 0?: current == nil
        case let version?: current?.version == version
        }
    }
}

/// Limits every store applies to a batch (etcd's default `--max-txn-ops` is 128; a value is one etcd
/// value, bounded well below etcd's 1.5 MiB request limit).
public enum ClusterRecordLimits {
    public static let maxWritesPerBatch = 128
    public static let maxKeyBytes = 1024
    public static let maxValueBytes = 256 * 1024

    /// Checks a batch before any store touches it.
    static func validate(_ writes: [ClusterRecordWrite]) throws(MetadataStoreError) {
        guard !writes.isEmpty else { throw .invalidRecord("an empty batch of record writes") }
        guard writes.count <= maxWritesPerBatch else {
            throw .invalidRecord("\(writes.count) record writes in one batch; at most \(maxWritesPerBatch)")
        }
        var seen: Set<RecordAddress> = []
        for write in writes {
            guard write.kind.isValid else {
                throw .invalidRecord("record kind '\(write.kind)' is not lowercase letters, digits, '_' or '-' (1-64 characters)")
            }
            guard !write.key.isEmpty, write.key.utf8.count <= maxKeyBytes else {
                throw .invalidRecord("record key of \(write.key.utf8.count) bytes under '\(write.kind)'; 1 to \(maxKeyBytes) bytes")
            }
            if case .put(let value) = write.operation, value.utf8.count > maxValueBytes {
                throw .invalidRecord("record \(write.kind)/\(write.key) has a value of \(value.utf8.count) bytes; at most \(maxValueBytes)")
            }
            if let version = write.expectedVersion, version < 0 {
                throw .invalidRecord("record \(write.kind)/\(write.key): expected version \(version) is negative")
            }
            guard seen.insert(RecordAddress(kind: write.kind, key: write.key)).inserted else {
                throw .invalidRecord("record \(write.kind)/\(write.key) is written twice in one batch")
            }
        }
    }
}

/// A record's place: kind and key.
struct RecordAddress: Hashable {
    var kind: ClusterRecordKind
    var key: String
}

extension MetadataImage {
    /// Every record of `kind`, by key (empty when there is none).
    public func records(_ kind: ClusterRecordKind) -> [String: ClusterRecord] { records[kind] ?? [:] }

    /// The record `kind`/`key`, or nil.
    public func record(_ kind: ClusterRecordKind, key: String) -> ClusterRecord? { records[kind]?[key] }

    /// Stores or (nil) removes one record; returns the change a subscriber sees, nil when nothing changed.
    mutating func setRecord(_ kind: ClusterRecordKind, key: String, to record: ClusterRecord?) -> MetadataChange? {
        let old = records[kind]?[key]
        guard old != record else { return nil }
        if let record {
            records[kind, default: [:]][key] = record
        } else {
            records[kind]?.removeValue(forKey: key)
            if records[kind]?.isEmpty == true { records.removeValue(forKey: kind) }
        }
        return .recordChanged(kind, key: key, record: record)
    }
}
