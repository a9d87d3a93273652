// Control records: the control record key (version + type) and the transaction marker value.
import NIOCore

/// The type in a control record's key (Kafka's ControlRecordType).
public enum ControlRecordType: Int16, Sendable, CaseIterable {
    case abort = 0
    case commit = 1
    case leaderChange = 2
    case snapshotHeader = 3
    case snapshotFooter = 4
    case kraftVersion = 5
    case kraftVoters = 6

    /// Reads the type from a control record key (int16 version, int16 type). Nil for an unknown type, which
    /// Kafka skips; throws when the key is too short to be a control key.
    public static func parse(key: ByteBuffer?) throws(RecordBatchError) -> ControlRecordType? {
        guard let key, key.readableBytes >= 4,
              let version = key.getInteger(at: key.readerIndex, as: Int16.self),
              let type = key.getInteger(at: key.readerIndex + 2, as: Int16.self)
        else { throw .corruptRecord("control record key must hold an int16 version and an int16 type") }
        guard version >= 0 else { throw .corruptRecord("control record key version \(version) is invalid") }
        return ControlRecordType(rawValue: type)
    }

    /// The 4-byte control record key for this type (version 0).
    public func encodedKey(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var key = allocator.buffer(capacity: 4)
        key.writeInteger(Int16(0))
        key.writeInteger(rawValue)
        return key
    }
}

/// A transaction marker: the single record of a control batch that commits or aborts a transaction.
public struct EndTransactionMarker: Sendable, Equatable {
    /// Commit or abort.
    public var type: ControlRecordType
    /// Version of the value schema (0 today).
    public var version: Int16
    /// Epoch of the transaction coordinator that wrote the marker.
    public var coordinatorEpoch: Int32

    /// A marker of `type` written by the coordinator at `coordinatorEpoch`.
    public init(type: ControlRecordType, coordinatorEpoch: Int32, version: Int16 = 0) {
        self.type = type
        self.version = version
        self.coordinatorEpoch = coordinatorEpoch
    }

    /// Decodes a marker from a control record. Nil when the record is a control record but not a
    /// commit/abort marker; throws when the key or value is malformed.
    public init?(controlRecord record: Record) throws(RecordBatchError) {
        guard let type = try ControlRecordType.parse(key: record.key), type == .abort || type == .commit else {
            return nil
        }
        guard let value = record.value, value.readableBytes >= 6,
              let version = value.getInteger(at: value.readerIndex, as: Int16.self),
              let epoch = value.getInteger(at: value.readerIndex + 2, as: Int32.self)
        else { throw .corruptRecord("transaction marker value must hold an int16 version and an int32 coordinator epoch") }
        guard version >= 0 else { throw .corruptRecord("transaction marker version \(version) is invalid") }
        self.init(type: type, coordinatorEpoch: epoch, version: version)
    }

    /// The 6-byte marker value (version, coordinator epoch).
    public func encodedValue(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var value = allocator.buffer(capacity: 6)
        value.writeInteger(version)
        value.writeInteger(coordinatorEpoch)
        return value
    }
}
