// The "consumer" group protocol's member metadata: subscriptions and assignments as the Java client
// encodes them (ConsumerProtocolSubscription / ConsumerProtocolAssignment, version-prefixed).
import KafkaProtocol
import NIOCore

/// Encoding of subscriptions and assignments exchanged through JoinGroup and SyncGroup.
public enum ConsumerProtocol {
    /// `protocol_type` of consumer groups.
    public static let protocolType = "consumer"

    /// A version-0 subscription of `topics`.
    public static func encodeSubscription(topics: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(0))
        buffer.writeInteger(Int32(topics.count))
        for topic in topics { buffer.writeKafkaString(topic, compact: false) }
        buffer.writeInteger(Int32(-1))  // user data: null
        return buffer
    }

    /// The topics of a subscription of any version (later fields are ignored). Nil when malformed.
    public static func decodeSubscriptionTopics(_ bytes: ByteBuffer) -> [String]? {
        var buffer = bytes
        guard let version = buffer.readInteger(as: Int16.self), version >= 0,
              let count = buffer.readInteger(as: Int32.self), count >= 0, Int(count) <= buffer.readableBytes / 2
        else { return nil }
        var topics: [String] = []
        for _ in 0..<count {
            guard let topic = try? buffer.readKafkaString(compact: false, field: "topic") else { return nil }
            topics.append(topic)
        }
        return topics
    }

    /// A version-0 assignment.
    public static func encodeAssignment(_ partitions: [String: [Int32]]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(0))
        buffer.writeInteger(Int32(partitions.count))
        for (topic, indexes) in partitions.sorted(by: { $0.key < $1.key }) {
            buffer.writeKafkaString(topic, compact: false)
            buffer.writeInteger(Int32(indexes.count))
            for index in indexes.sorted() { buffer.writeInteger(index) }
        }
        buffer.writeInteger(Int32(-1))  // user data: null
        return buffer
    }

    /// The partitions of an assignment of any version; empty bytes mean no assignment. Nil when malformed.
    public static func decodeAssignment(_ bytes: ByteBuffer) -> [TopicPartition]? {
        var buffer = bytes
        guard buffer.readableBytes > 0 else { return [] }
        guard let version = buffer.readInteger(as: Int16.self), version >= 0,
              let count = buffer.readInteger(as: Int32.self), count >= 0, Int(count) <= buffer.readableBytes / 6
        else { return nil }
        var result: [TopicPartition] = []
        for _ in 0..<count {
            guard let topic = try? buffer.readKafkaString(compact: false, field: "topic"), let partitions = buffer.readInteger(as: Int32.self),
                  partitions >= 0, Int(partitions) <= buffer.readableBytes / 4 else { return nil }
            for _ in 0..<partitions {
                guard let partition = buffer.readInteger(as: Int32.self) else { return nil }
                result.append(TopicPartition(topic: topic, partition: partition))
            }
        }
        return result
    }
}
