// A Produce request frame as a list of buffers: the protocol fields in small buffers between the record
// batches, which are written as they are (no copy of the batches into one frame buffer).
import KafkaProtocol
import NIOCore

/// Encodes Produce requests (v3-v13) for a vectored write. Concatenated, the segments are byte for byte
/// the frame `BrokerConnection.encodeFrame` writes: size prefix, request header, body.
enum ProduceFrameSegments {
    /// The segments of `request` in `version`; the first holds the size prefix and the request header
    /// (the correlation id is set by the `RequestRouter`).
    static func encode(_ request: ProduceRequest, version: Int16, clientId: String?,
                       allocator: ByteBufferAllocator) throws -> [ByteBuffer] {
        guard (3...13).contains(version) else {
            throw KafkaClientError.encodingFailed("Produce v\(version) is outside v3-v13")
        }
        let flexible = version >= 9
        var segments: [ByteBuffer] = []
        var current = allocator.buffer(capacity: 256)
        current.writeInteger(Int32(0))  // size, set below
        current.writeInteger(ApiKey.produce.rawValue)
        current.writeInteger(version)
        current.writeInteger(Int32(0))  // correlation id
        current.writeKafkaString(clientId, compact: false)
        if flexible { current.writeUnsignedVarint(0) }
        current.writeKafkaString(request.transactionalId, compact: flexible)
        current.writeInteger(request.acks)
        current.writeInteger(request.timeoutMs)
        current.writeKafkaArrayCount(request.topicData.count, compact: flexible)
        for topic in request.topicData {
            if version >= 13 {
                current.writeKafkaUUID(topic.topicId)
            } else {
                current.writeKafkaString(topic.name, compact: flexible)
            }
            current.writeKafkaArrayCount(topic.partitionData.count, compact: flexible)
            for partition in topic.partitionData {
                current.writeInteger(partition.index)
                if let records = partition.records {
                    if flexible {
                        current.writeUnsignedVarint(UInt32(truncatingIfNeeded: records.readableBytes + 1))
                    } else {
                        current.writeInteger(Int32(truncatingIfNeeded: records.readableBytes))
                    }
                    if records.readableBytes > 0 {
                        segments.append(current)
                        segments.append(records)
                        current = allocator.buffer(capacity: 64)
                    }
                } else if flexible {
                    current.writeUnsignedVarint(0)
                } else {
                    current.writeInteger(Int32(-1))
                }
                if flexible { current.writeUnsignedVarint(0) }
            }
            if flexible { current.writeUnsignedVarint(0) }
        }
        if flexible { current.writeUnsignedVarint(0) }
        segments.append(current)
        let total = segments.reduce(0) { $0 + $1.readableBytes }
        guard total - 4 <= Int(Int32.max) else {
            throw KafkaClientError.encodingFailed("Produce request of \(total) bytes")
        }
        segments[0].setInteger(Int32(total - 4), at: segments[0].readerIndex)
        return segments
    }
}
