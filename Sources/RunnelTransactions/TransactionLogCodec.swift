// TransactionLogCodec: `__transaction_state` records exactly as Kafka writes them — key: int16 version 0
// + TransactionLogKey; value: int16 version + TransactionLogValue (0 classic, 1 flexible for
// transactions v2); a tombstone (nil value) removes an expired transactional id.
import KafkaProtocol
import NIOCore

/// Why a `__transaction_state` record could not be encoded or decoded.
public enum TransactionLogCodecError: Error, Sendable, CustomStringConvertible {
    case truncated(what: String)
    case unsupportedVersion(what: String, version: Int16)
    case malformed(what: String, reason: String)
    case unencodable(reason: String)

    public var description: String {
        switch self {
        case .truncated(let what): "\(what): fewer than 2 bytes, no schema version"
        case .unsupportedVersion(let what, let version): "\(what): unknown schema version \(version)"
        case .malformed(let what, let reason): "\(what): \(reason)"
        case .unencodable(let reason): "transaction log record cannot be encoded: \(reason)"
        }
    }
}

/// Encodes and decodes transaction log records.
public enum TransactionLogCodec {
    /// The record for `metadata` (key and value).
    public static func record(_ metadata: TransactionMetadata) throws(TransactionLogCodecError) -> TransactionLogRecord {
        TransactionLogRecord(key: try key(metadata.transactionalId), value: try value(metadata))
    }

    /// The tombstone that removes `transactionalId`.
    public static func tombstone(_ transactionalId: String) throws(TransactionLogCodecError) -> TransactionLogRecord {
        TransactionLogRecord(key: try key(transactionalId), value: nil)
    }

    static func key(_ transactionalId: String) throws(TransactionLogCodecError) -> ByteBuffer {
        var key = TransactionLogKey()
        key.transactionalId = transactionalId
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(0))
        do { try key.encode(to: &buffer, version: 0) } catch { throw .unencodable(reason: "\(error)") }
        return buffer
    }

    static func value(_ metadata: TransactionMetadata) throws(TransactionLogCodecError) -> ByteBuffer {
        var value = TransactionLogValue()
        value.producerId = metadata.producerId
        value.previousProducerId = metadata.previousProducerId
        value.nextProducerId = metadata.nextProducerId
        value.producerEpoch = metadata.producerEpoch
        value.transactionTimeoutMs = metadata.timeoutMs
        value.transactionStatus = metadata.state.rawValue
        // Kafka writes the partition list grouped by topic; Empty and Complete* states hold none.
        let byTopic = Dictionary(grouping: metadata.partitions, by: \.topic)
        value.transactionPartitions = byTopic.keys.sorted().map { topic in
            var entry = TransactionLogValue.PartitionsSchema()
            entry.topic = topic
            entry.partitionIds = (byTopic[topic] ?? []).map(\.partition).sorted()
            return entry
        }
        value.transactionLastUpdateTimestampMs = metadata.lastUpdateTimestampMs
        value.transactionStartTimestampMs = metadata.startTimestampMs
        value.clientTransactionVersion = metadata.clientTransactionVersion
        // Kafka writes version 1 (flexible, tagged fields) only for transactions v2 clients.
        let version: Int16 = metadata.clientTransactionVersion >= 2 ? 1 : 0
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        do { try value.encode(to: &buffer, version: version) } catch { throw .unencodable(reason: "\(error)") }
        return buffer
    }

    /// Decodes a record: the transactional id and its metadata, or nil metadata for a tombstone.
    public static func decode(_ record: TransactionLogRecord) throws(TransactionLogCodecError) -> (String, TransactionMetadata?) {
        var key = record.key
        guard let keyVersion = key.readInteger(as: Int16.self) else { throw .truncated(what: "TransactionLogKey") }
        guard keyVersion == 0 else { throw .unsupportedVersion(what: "TransactionLogKey", version: keyVersion) }
        let decodedKey: TransactionLogKey
        do { decodedKey = try TransactionLogKey(from: &key, version: 0) } catch {
            throw .malformed(what: "TransactionLogKey", reason: "\(error)")
        }
        let id = decodedKey.transactionalId
        guard var buffer = record.value else { return (id, nil) }
        guard let version = buffer.readInteger(as: Int16.self) else { throw .truncated(what: "TransactionLogValue") }
        guard TransactionLogValue.validVersions.contains(version) else {
            throw .unsupportedVersion(what: "TransactionLogValue", version: version)
        }
        let value: TransactionLogValue
        do { value = try TransactionLogValue(from: &buffer, version: version) } catch {
            throw .malformed(what: "TransactionLogValue of \(id)", reason: "\(error)")
        }
        guard let state = TransactionState(rawValue: value.transactionStatus) else {
            throw .malformed(what: "TransactionLogValue of \(id)", reason: "unknown transaction status \(value.transactionStatus)")
        }
        var partitions = Set<TopicPartition>()
        for entry in value.transactionPartitions ?? [] {
            for partition in entry.partitionIds { partitions.insert(TopicPartition(topic: entry.topic, partition: partition)) }
        }
        let metadata = TransactionMetadata(
            transactionalId: id, producerId: value.producerId, previousProducerId: value.previousProducerId,
            nextProducerId: value.nextProducerId, producerEpoch: value.producerEpoch,
            lastProducerEpoch: TransactionMetadata.noEpoch, timeoutMs: value.transactionTimeoutMs, state: state,
            partitions: partitions, startTimestampMs: value.transactionStartTimestampMs,
            lastUpdateTimestampMs: value.transactionLastUpdateTimestampMs,
            clientTransactionVersion: value.clientTransactionVersion)
        return (id, metadata)
    }
}
