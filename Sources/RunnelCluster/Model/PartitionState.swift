// PartitionState: one partition's replicas, leader, leader epoch, ISR and partition epoch — what
// Kafka's controller keeps per partition (KRaft's PartitionRegistration).
import KafkaProtocol

/// A partition's assignment and leadership as the metadata store holds it. Every change goes through
/// `MetadataStore.alterPartition`, a compare-and-swap on `partitionEpoch`.
public struct PartitionState: Sendable, Equatable, Codable {
    /// The leader id when no replica leads (Kafka's -1).
    public static let noLeader: Int32 = -1

    /// The assigned replicas, preferred leader first.
    public var replicas: [Int32]
    /// The broker that leads, or `noLeader`.
    public var leader: Int32
    /// Bumped on every leader change; fences requests from an older leader (FENCED_LEADER_EPOCH).
    public var leaderEpoch: Int32
    /// The in-sync replicas (leader included).
    public var isr: [Int32]
    /// Bumped on every change of this state (leader, ISR or replicas): the compare-and-swap version.
    public var partitionEpoch: Int32

    /// Creates a state.
    public init(replicas: [Int32], leader: Int32, leaderEpoch: Int32, isr: [Int32], partitionEpoch: Int32) {
        self.replicas = replicas
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.isr = isr
        self.partitionEpoch = partitionEpoch
    }

    /// The state of a new partition: the first replica leads, every replica is in sync, epochs 0
    /// (Kafka's controller does the same at creation; all the logs are empty).
    public static func initial(replicas: [Int32]) -> PartitionState {
        PartitionState(replicas: replicas, leader: replicas.first ?? noLeader, leaderEpoch: 0, isr: replicas,
                       partitionEpoch: 0)
    }

    /// The replicas not among `liveBrokers` (Metadata's offline replicas).
    public func offlineReplicas(liveBrokers: Set<Int32>) -> [Int32] {
        replicas.filter { !liveBrokers.contains($0) }
    }

    enum CodingKeys: String, CodingKey {
        case replicas, leader, leaderEpoch = "leader_epoch", isr, partitionEpoch = "partition_epoch"
    }
}
