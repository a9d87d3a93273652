// Encodes a FetchResponse (v4–18) as a list of parts so record data goes out as file regions
// (sendfile) instead of being copied into the response buffer. Its bytes equal the generated
// FetchResponse encoder's for the same content (tested in FetchResponseWriterTests).
import KafkaProtocol
import NIOCore

struct FetchResponseWriter {
    let version: Int16
    let flexible: Bool
    private var parts: [ResponsePart] = []
    /// The answer goes to a Runnel follower: Runnel's replication tags are written (decision 0028).
    private var honoursDurableEndOffset = false
    private var current: ByteBuffer

    init(version: Int16, allocator: ByteBufferAllocator) {
        self.version = version
        self.flexible = version >= 12
        self.current = allocator.buffer(capacity: 256)
    }

    mutating func encode(correlationId: Int32, errorCode: ErrorCode, sessionId: Int32,
                         partitions: [FetchedPartition], throttleTimeMs: Int32 = 0,
                         honoursDurableEndOffset: Bool = false) -> ResponsePayload {
        self.honoursDurableEndOffset = honoursDurableEndOffset
        current.writeInteger(correlationId)
        if flexible { current.writeInteger(UInt8(0)) }  // response header v1: no tagged fields
        current.writeInteger(throttleTimeMs)
        if version >= 7 {
            current.writeInteger(errorCode.rawValue)
            current.writeInteger(sessionId)
        }
        // Group partitions by topic, keeping first-seen topic order.
        var topicOrder: [String] = []
        var byTopic: [String: [FetchedPartition]] = [:]
        for partition in partitions {
            if byTopic[partition.key.topic] == nil { topicOrder.append(partition.key.topic) }
            byTopic[partition.key.topic, default: []].append(partition)
        }
        writeArrayLength(topicOrder.count)
        for topic in topicOrder {
            let list = byTopic[topic] ?? []
            if version >= 13 {
                let id = list.first?.topicId ?? .zero
                current.writeKafkaUUID(id)
            } else {
                writeString(topic)
            }
            writeArrayLength(list.count)
            for partition in list { writePartition(partition) }
            if flexible { current.writeInteger(UInt8(0)) }
        }
        if flexible {
            // Top-level tagged fields: node endpoints are omitted; to a follower, Runnel's own empty tag
            // saying it reads the follower's durable end offset (ReplicationTags).
            if honoursDurableEndOffset {
                writeUnsignedVarint(1)
                writeUnsignedVarint(ReplicationTags.durableEndOffsetHonoured)
                writeUnsignedVarint(0)
            } else {
                current.writeInteger(UInt8(0))
            }
        }
        parts.append(.buffer(current))
        return .parts(parts)
    }

    private mutating func writePartition(_ p: FetchedPartition) {
        current.writeInteger(p.key.partition)
        current.writeInteger(p.errorCode.rawValue)
        current.writeInteger(p.highWatermark)
        current.writeInteger(p.lastStableOffset)
        if version >= 5 { current.writeInteger(p.logStartOffset) }
        if let aborted = p.abortedTransactions {
            writeArrayLength(aborted.count)
            for range in aborted {
                current.writeInteger(range.producerId)
                current.writeInteger(range.firstOffset)
                if flexible { current.writeInteger(UInt8(0)) }
            }
        } else {
            writeNullArray()
        }
        if version >= 11 { current.writeInteger(Int32(-1)) }  // preferred_read_replica
        let length = p.records.byteCount
        if flexible {
            writeUnsignedVarint(UInt32(length + 1))
        } else {
            current.writeInteger(Int32(length))
        }
        switch p.records {
        case .empty:
            break
        case .file(let regions):
            for (region, lease) in regions {
                flush()
                parts.append(.file(region, lease: lease))
            }
        case .buffers(let buffers):
            // Tail-cache slices, or decompressed frames of a remote segment: sent as their own parts,
            // not copied into the response buffer.
            flush()
            for buffer in buffers { parts.append(.buffer(buffer)) }
        }
        if flexible {
            // Partition tagged fields, by tag: DivergingEpoch (tag 0: epoch, end offset, its own empty tagged
            // fields), then to a Runnel follower the leader's appended end (ReplicationTags).
            let leaderEnd = honoursDurableEndOffset ? p.leaderAppendedEndOffset : nil
            writeUnsignedVarint((p.divergingEpoch == nil ? 0 : 1) + (leaderEnd == nil ? 0 : 1))
            if let diverging = p.divergingEpoch {
                writeUnsignedVarint(0)
                writeUnsignedVarint(13)
                current.writeInteger(diverging.epoch)
                current.writeInteger(diverging.endOffset)
                current.writeInteger(UInt8(0))
            }
            if let leaderEnd {
                writeUnsignedVarint(ReplicationTags.leaderAppendedEndOffset)
                writeUnsignedVarint(8)
                current.writeInteger(leaderEnd)
            }
        }
    }

    /// Ends the current buffer part so a file region can follow it.
    private mutating func flush() {
        if current.readableBytes > 0 {
            parts.append(.buffer(current))
            current = ByteBufferAllocator().buffer(capacity: 128)
        }
    }

    private mutating func writeArrayLength(_ count: Int) {
        current.writeKafkaArrayCount(count, compact: flexible)
    }

    private mutating func writeNullArray() {
        current.writeKafkaArrayCount(nil, compact: flexible)
    }

    private mutating func writeString(_ value: String) {
        current.writeKafkaString(value, compact: flexible)
    }

    private mutating func writeUnsignedVarint(_ value: UInt32) {
        current.writeUnsignedVarint(value)
    }
}
