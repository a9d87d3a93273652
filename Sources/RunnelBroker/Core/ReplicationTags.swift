// ReplicationTags: Runnel's own tagged fields on the follower Fetch (Fetch v12+ is a flexible version, and
// a Kafka broker skips tags it does not know). They let a follower fetch again before what it appended
// is durable without the leader mistaking its fetch position for its durable end (decision 0028).
import KafkaProtocol
import NIOCore

enum ReplicationTags {
    /// FetchRequest partition: the follower's log is durable up to this end offset (int64). The leader
    /// counts the smaller of it and the fetch offset toward the high watermark and ISR expansion; the
    /// fetch offset stays the read position. Far above Kafka's tags (which count up from 0).
    static let durableEndOffset: UInt32 = 0x5255_4E01
    /// FetchResponse (top level, empty): this leader reads `durableEndOffset`, so the follower may send
    /// fetch positions ahead of its durable end.
    static let durableEndOffsetHonoured: UInt32 = 0x5255_4E02

    static func durableEndOffsetField(_ offset: Int64) -> TaggedField {
        var data = ByteBuffer()
        data.writeInteger(offset)
        return TaggedField(tag: durableEndOffset, data: data)
    }

    /// The durable end offset a follower's fetch partition carries, if any (nil also for a malformed one).
    static func durableEndOffset(in fields: [TaggedField]) -> Int64? {
        guard let field = fields.first(where: { $0.tag == durableEndOffset }), field.data.readableBytes == 8 else { return nil }
        return field.data.getInteger(at: field.data.readerIndex, as: Int64.self)
    }

    static func honoursDurableEndOffset(_ fields: [TaggedField]) -> Bool {
        fields.contains { $0.tag == durableEndOffsetHonoured }
    }
}
