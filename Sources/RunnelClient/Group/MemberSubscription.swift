// A group member's full subscription (ConsumerProtocolSubscription v0-v3): topics, user data, the
// partitions it owns and its generation, which the cooperative-sticky assignor needs.
import KafkaProtocol
import NIOCore

/// What one member sent in JoinGroup: its topics and, from v1, the partitions it owns (v2: with the
/// generation they were assigned in).
public struct MemberSubscription: Sendable, Equatable {
    public var topics: [String]
    /// Opaque assignor data (the cooperative-sticky assignor puts the generation here for old leaders).
    public var userData: ByteBuffer?
    /// Partitions the member owns now (empty for v0 subscriptions).
    public var ownedPartitions: [TopicPartition]
    /// The generation the owned partitions were assigned in; -1 when unknown.
    public var generationId: Int32

    public init(topics: [String], userData: ByteBuffer? = nil, ownedPartitions: [TopicPartition] = [],
                generationId: Int32 = -1) {
        self.topics = topics
        self.userData = userData
        self.ownedPartitions = ownedPartitions
        self.generationId = generationId
    }
}

extension ConsumerProtocol {
    /// The subscription version written with owned partitions and generation.
    static let ownedPartitionsVersion: Int16 = 2

    /// A version-2 subscription carrying owned partitions and the generation, as the Java client's
    /// cooperative-sticky assignor sends it (the generation is also in user data, for v0/v1 leaders).
    public static func encodeSubscription(_ subscription: MemberSubscription) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(ownedPartitionsVersion)
        buffer.writeInteger(Int32(subscription.topics.count))
        for topic in subscription.topics { buffer.writeKafkaString(topic, compact: false) }
        if var userData = subscription.userData {
            buffer.writeInteger(Int32(userData.readableBytes))
            buffer.writeBuffer(&userData)
        } else {
            buffer.writeInteger(Int32(-1))
        }
        var byTopic: [String: [Int32]] = [:]
        for owned in subscription.ownedPartitions { byTopic[owned.topic, default: []].append(owned.partition) }
        buffer.writeInteger(Int32(byTopic.count))
        for (topic, partitions) in byTopic.sorted(by: { $0.key < $1.key }) {
            buffer.writeKafkaString(topic, compact: false)
            buffer.writeInteger(Int32(partitions.count))
            for partition in partitions.sorted() { buffer.writeInteger(partition) }
        }
        buffer.writeInteger(subscription.generationId)
        return buffer
    }

    /// Decodes a subscription of any version (fields newer than v3 are ignored). Nil when malformed.
    public static func decodeSubscription(_ bytes: ByteBuffer) -> MemberSubscription? {
        var buffer = bytes
        guard let version = buffer.readInteger(as: Int16.self), version >= 0,
              let count = buffer.readInteger(as: Int32.self), count >= 0, Int(count) <= buffer.readableBytes / 2
        else { return nil }
        var subscription = MemberSubscription(topics: [])
        for _ in 0..<count {
            guard let topic = try? buffer.readKafkaString(compact: false, field: "topic") else { return nil }
            subscription.topics.append(topic)
        }
        guard let userDataLength = buffer.readInteger(as: Int32.self) else { return nil }
        if userDataLength >= 0 {
            guard let userData = buffer.readSlice(length: Int(userDataLength)) else { return nil }
            subscription.userData = userData
        }
        if version >= 1 {
            // Ignorable in the schema: a v1+ subscription may still end here.
            guard buffer.readableBytes > 0 else { return subscription }
            guard let topics = buffer.readInteger(as: Int32.self), topics >= 0,
                  Int(topics) <= buffer.readableBytes / 6 else { return nil }
            for _ in 0..<topics {
                guard let topic = try? buffer.readKafkaString(compact: false, field: "topic"), let partitions = buffer.readInteger(as: Int32.self),
                      partitions >= 0, Int(partitions) <= buffer.readableBytes / 4 else { return nil }
                for _ in 0..<partitions {
                    guard let partition = buffer.readInteger(as: Int32.self) else { return nil }
                    subscription.ownedPartitions.append(TopicPartition(topic: topic, partition: partition))
                }
            }
        }
        if version >= 2, let generation = buffer.readInteger(as: Int32.self) {
            subscription.generationId = generation
        } else if let userData = subscription.userData, userData.readableBytes >= 4,
                  let generation = userData.getInteger(at: userData.readerIndex, as: Int32.self) {
            // v0/v1 from a cooperative-sticky member: the generation travels in user data.
            subscription.generationId = generation
        }
        return subscription
    }
}
