// PartitionState: one partition's replicas, leader, leader epoch, ISR and partition epoch — what
// Kafka's controller keeps per partition (KRaft's PartitionRegistration).
import KafkaProtocol

/// A partition's assignment and leadership as the metadata store holds it. Every change goes through
/// `MetadataStore.alterPartition`, a compare-and-swap on `partitionEpoch`.
public struct PartitionState: Sendable, Equatable, Codable {
    /// The leader id when no replica leads (Kafka's -1).
    public static let noLeader: Int32 = -1

    /// The assigned replicas, preferred leader first. During a reassignment: the target replicas
    /// followed by the ones being removed (Kafka's model: target ∪ current, target order first).
    public var replicas: [Int32]
    /// The broker that leads, or `noLeader`.
    public var leader: Int32
    /// Bumped on every leader change; fences requests from an older leader (FENCED_LEADER_EPOCH).
    public var leaderEpoch: Int32
    /// The in-sync replicas (leader included).
    public var isr: [Int32]
    /// Bumped on every change of this state (leader, ISR or replicas): the compare-and-swap version.
    public var partitionEpoch: Int32
    /// During a reassignment: the target replicas that were not replicas before (they catch up from the
    /// leader); empty otherwise.
    public var addingReplicas: [Int32]
    /// During a reassignment: the replicas that are not in the target (they leave once every target
    /// replica is in the ISR); empty otherwise.
    public var removingReplicas: [Int32]

    /// Creates a state.
    public init(replicas: [Int32], leader: Int32, leaderEpoch: Int32, isr: [Int32], partitionEpoch: Int32,
                addingReplicas: [Int32] = [], removingReplicas: [Int32] = []) {
        self.replicas = replicas
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.isr = isr
        self.partitionEpoch = partitionEpoch
        self.addingReplicas = addingReplicas
        self.removingReplicas = removingReplicas
    }

    /// True while a reassignment is in progress (Kafka: adding or removing replicas are set).
    public var isReassigning: Bool { !addingReplicas.isEmpty || !removingReplicas.isEmpty }

    /// The replicas the partition is moving to: `replicas` without the removing ones.
    public var targetReplicas: [Int32] { replicas.filter { !removingReplicas.contains($0) } }

    /// The replicas before the reassignment started: `replicas` without the adding ones.
    public var originalReplicas: [Int32] { replicas.filter { !addingReplicas.contains($0) } }

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
        case addingReplicas = "adding_replicas", removingReplicas = "removing_replicas"
    }

    /// Decodes a state; records written before reassignments existed have no adding/removing keys.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        replicas = try container.decode([Int32].self, forKey: .replicas)
        leader = try container.decode(Int32.self, forKey: .leader)
        leaderEpoch = try container.decode(Int32.self, forKey: .leaderEpoch)
        isr = try container.decode([Int32].self, forKey: .isr)
        partitionEpoch = try container.decode(Int32.self, forKey: .partitionEpoch)
        addingReplicas = try container.decodeIfPresent([Int32].self, forKey: .addingReplicas) ?? []
        removingReplicas = try container.decodeIfPresent([Int32].self, forKey: .removingReplicas) ?? []
    }

    /// Encodes a state; the adding/removing keys only while a reassignment is in progress, so records
    /// of partitions that never moved stay as they were.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(replicas, forKey: .replicas)
        try container.encode(leader, forKey: .leader)
        try container.encode(leaderEpoch, forKey: .leaderEpoch)
        try container.encode(isr, forKey: .isr)
        try container.encode(partitionEpoch, forKey: .partitionEpoch)
        if !addingReplicas.isEmpty { try container.encode(addingReplicas, forKey: .addingReplicas) }
        if !removingReplicas.isEmpty { try container.encode(removingReplicas, forKey: .removingReplicas) }
    }
}
