// GroupRecordCodec: the key/value encodings of `__consumer_offsets` records, exactly as Kafka writes them
// (an int16 schema version, then the OffsetCommit*/GroupMetadata* body of that version).
import KafkaProtocol
import NIOCore

/// A decoded `__consumer_offsets` record. A nil value is a tombstone.
public enum GroupRecord: Sendable, Equatable {
    /// A committed offset of one partition (key versions 0 and 1).
    case offsetCommit(OffsetCommitKey, OffsetCommitValue?)
    /// A classic group's metadata: generation, protocol, members and assignments (key version 2).
    case groupMetadata(GroupMetadataKey, GroupMetadataValue?)
    /// A record this coordinator does not own (KIP-848 consumer/share group records, key version ≥ 3);
    /// skipped on load so a log written by a newer Kafka still loads.
    case other(keyVersion: Int16)
}

/// Why a `__consumer_offsets` record could not be encoded or decoded.
public enum GroupRecordError: Error, Sendable, CustomStringConvertible {
    case truncatedVersion(what: String)
    case unsupportedVersion(what: String, version: Int16)
    case malformed(what: String, reason: String)
    case unencodable(what: String, reason: String)

    public var description: String {
        switch self {
        case .truncatedVersion(let what): "\(what): fewer than 2 bytes, no schema version"
        case .unsupportedVersion(let what, let version): "\(what): unknown schema version \(version)"
        case .malformed(let what, let reason): "\(what): \(reason)"
        case .unencodable(let what, let reason): "\(what) cannot be encoded: \(reason)"
        }
    }
}

/// Encodes and decodes `__consumer_offsets` records with Kafka's internal schemas.
public enum GroupRecordCodec {
    /// Key version Kafka writes for offset commits (0 and 1 share a layout; Kafka writes 1).
    static let offsetCommitKeyVersion: Int16 = 1
    /// Key version of group metadata records.
    static let groupMetadataKeyVersion: Int16 = 2
    /// Value version for offset commits without an explicit expire timestamp (has the leader epoch).
    static let offsetCommitValueVersion: Int16 = 3
    /// Value version for offset commits that carry an explicit expire timestamp (OffsetCommit v2-v4
    /// retention time), which only version 1 can hold.
    static let offsetCommitValueVersionWithExpiry: Int16 = 1
    /// Group metadata value version (v3 has static members' `groupInstanceId`).
    static let groupMetadataValueVersion: Int16 = 3

    /// The key of a partition's committed offset.
    public static func offsetCommitKey(group: String, topic: String, partition: Int32) throws(GroupRecordError) -> ByteBuffer {
        var key = OffsetCommitKey()
        key.group = group
        key.topic = topic
        key.partition = partition
        return try encode(key, version: offsetCommitKeyVersion, what: "OffsetCommitKey")
    }

    /// The value of a committed offset; version 1 when it carries an expire timestamp, else version 3.
    public static func offsetCommitValue(_ value: OffsetCommitValue) throws(GroupRecordError) -> ByteBuffer {
        let version = value.expireTimestamp == -1 ? offsetCommitValueVersion : offsetCommitValueVersionWithExpiry
        return try encode(value, version: version, what: "OffsetCommitValue")
    }

    /// The key of a group's metadata record.
    public static func groupMetadataKey(group: String) throws(GroupRecordError) -> ByteBuffer {
        var key = GroupMetadataKey()
        key.group = group
        return try encode(key, version: groupMetadataKeyVersion, what: "GroupMetadataKey")
    }

    /// The value of a group's metadata record; version 4 (flexible) when it carries tagged fields (a fence in
    /// progress, GroupMove+Persistence), else version 3.
    public static func groupMetadataValue(_ value: GroupMetadataValue) throws(GroupRecordError) -> ByteBuffer {
        try encode(value, version: value.unknownTaggedFields.isEmpty ? groupMetadataValueVersion : 4, what: "GroupMetadataValue")
    }

    /// Decodes one record. Unknown key versions ≥ 3 are `.other`; anything malformed throws.
    public static func decode(_ record: GroupLogRecord) throws(GroupRecordError) -> GroupRecord {
        var key = record.key
        guard let keyVersion = key.readInteger(as: Int16.self) else { throw .truncatedVersion(what: "record key") }
        switch keyVersion {
        case 0, 1:
            let commitKey: OffsetCommitKey = try decodeBody(&key, version: keyVersion, what: "OffsetCommitKey")
            guard var value = record.value else { return .offsetCommit(commitKey, nil) }
            guard let valueVersion = value.readInteger(as: Int16.self) else {
                throw .truncatedVersion(what: "OffsetCommitValue")
            }
            guard (0...4).contains(valueVersion) else {
                throw .unsupportedVersion(what: "OffsetCommitValue", version: valueVersion)
            }
            let commitValue: OffsetCommitValue = try decodeBody(&value, version: valueVersion, what: "OffsetCommitValue")
            return .offsetCommit(commitKey, commitValue)
        case 2:
            let groupKey: GroupMetadataKey = try decodeBody(&key, version: keyVersion, what: "GroupMetadataKey")
            guard var value = record.value else { return .groupMetadata(groupKey, nil) }
            guard let valueVersion = value.readInteger(as: Int16.self) else {
                throw .truncatedVersion(what: "GroupMetadataValue")
            }
            guard (0...4).contains(valueVersion) else {
                throw .unsupportedVersion(what: "GroupMetadataValue", version: valueVersion)
            }
            let groupValue: GroupMetadataValue = try decodeBody(&value, version: valueVersion, what: "GroupMetadataValue")
            return .groupMetadata(groupKey, groupValue)
        default:
            guard keyVersion > 2 else { throw .unsupportedVersion(what: "record key", version: keyVersion) }
            return .other(keyVersion: keyVersion)
        }
    }

    private static func encode<Message: KafkaMessage>(_ message: Message, version: Int16,
                                                      what: String) throws(GroupRecordError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        do {
            try message.encode(to: &buffer, version: version)
        } catch {
            throw .unencodable(what: what, reason: "\(error)")
        }
        return buffer
    }

    private static func decodeBody<Message: KafkaMessage>(_ buffer: inout ByteBuffer, version: Int16,
                                                          what: String) throws(GroupRecordError) -> Message {
        do {
            return try Message(from: &buffer, version: version)
        } catch {
            throw .malformed(what: what, reason: "\(error)")
        }
    }
}
