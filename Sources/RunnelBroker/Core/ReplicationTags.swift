// ReplicationTags: Runnel's own tagged fields on the follower Fetch (Fetch v12+ is a flexible version, and
// a Kafka broker skips tags it does not know). They let a follower fetch again before what it appended
// is durable — while the leader has more for it — without the leader mistaking its fetch position for
// its durable end (decision 0028).
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
    /// FetchResponse partition, to a follower: the leader's appended end offset when it read the answer
    /// (int64). Beyond the answer's last batch, more is on its way: the follower fetches again before
    /// its append is durable.
    static let leaderAppendedEndOffset: UInt32 = 0x5255_4E03

    static func durableEndOffsetField(_ offset: Int64) -> TaggedField { int64Field(durableEndOffset, offset) }

    /// The durable end offset a follower's fetch partition carries, if any (nil also for a malformed one).
    static func durableEndOffset(in fields: [TaggedField]) -> Int64? { int64(durableEndOffset, in: fields) }

    /// The leader's appended end offset an answer's partition carries, if any.
    static func leaderAppendedEndOffset(in fields: [TaggedField]) -> Int64? { int64(leaderAppendedEndOffset, in: fields) }

    private static func int64Field(_ tag: UInt32, _ value: Int64) -> TaggedField {
        var data = ByteBuffer()
        data.writeInteger(value)
        return TaggedField(tag: tag, data: data)
    }

    private static func int64(_ tag: UInt32, in fields: [TaggedField]) -> Int64? {
        guard let field = fields.first(where: { $0.tag == tag }), field.data.readableBytes == 8 else { return nil }
        return field.data.getInteger(at: field.data.readerIndex, as: Int64.self)
    }

    static func honoursDurableEndOffset(_ fields: [TaggedField]) -> Bool {
        fields.contains { $0.tag == durableEndOffsetHonoured }
    }
}
