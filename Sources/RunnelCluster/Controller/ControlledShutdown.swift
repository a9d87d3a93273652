// ControlledShutdown: a broker leaving on purpose first hands its leaderships to other ISR members
// (the controller does the moves), so clients see one NOT_LEADER_OR_FOLLOWER and a new leader instead
// of a lease TTL of unavailability.
import KafkaProtocol

/// How a controlled shutdown ended.
public struct ControlledShutdownResult: Sendable {
    /// Partitions this broker still leads although another ISR member could lead them (empty: done).
    public var remaining: [TopicPartition]
    /// Why the mark could not be written (the broker then shuts down uncontrolled).
    public var error: MetadataStoreError?

    /// True when nothing movable is left.
    public var completed: Bool { remaining.isEmpty && error == nil }
}

extension MetadataStore {
    /// Requests a controlled shutdown and waits, at most `timeout`, until this broker leads no
    /// partition that another ISR member could lead. Partitions whose only ISR member it is go offline
    /// (the controller elects it nowhere; they come back when it returns), as in Kafka.
    public func controlledShutdown(timeout: Duration) async -> ControlledShutdownResult {
        let node = nodeId
        do {
            try await requestControlledShutdown()
        } catch {
            return ControlledShutdownResult(remaining: LeaderElection.movableLeaderships(of: node, in: image), error: error)
        }
        _ = await waitForImage(timeout: timeout) { LeaderElection.movableLeaderships(of: node, in: $0).isEmpty }
        return ControlledShutdownResult(remaining: LeaderElection.movableLeaderships(of: node, in: image), error: nil)
    }
}

extension LeaderElection {
    /// The partitions `broker` leads that another ISR member could lead instead.
    public static func movableLeaderships(of broker: Int32, in image: MetadataImage) -> [TopicPartition] {
        let liveness = BrokerLiveness(image: image)
        var result: [TopicPartition] = []
        for name in image.topics.keys.sorted() {
            guard let topic = image.topics[name] else { continue }
            for (index, state) in topic.partitions.enumerated() where state.leader == broker {
                if state.isr.contains(where: { $0 != broker && liveness.canLead($0) }) {
                    result.append(TopicPartition(topic: name, partition: Int32(index)))
                }
            }
        }
        return result
    }
}
