// LeaderElection: the controller's decisions about a partition's leader and ISR, as pure functions of
// its state and of which brokers may lead (Kafka's PartitionChangeBuilder, without eligible leader
// replicas). No I/O: `PartitionStateWriter` applies what these functions decide.
import KafkaProtocol

/// Which brokers are registered and which of them may be elected leader.
public struct BrokerLiveness: Sendable, Equatable {
    /// Registered brokers (their lease is live).
    public var live: Set<Int32>
    /// Registered brokers in controlled shutdown: still serving, but never elected and moved out of
    /// leadership.
    public var shuttingDown: Set<Int32>

    /// Liveness from explicit sets (tests).
    public init(live: Set<Int32>, shuttingDown: Set<Int32> = []) {
        self.live = live
        self.shuttingDown = shuttingDown.intersection(live)
    }

    /// The liveness an image shows.
    public init(image: MetadataImage) {
        self.init(live: Set(image.brokers.keys),
                  shuttingDown: Set(image.brokers.values.filter(\.inControlledShutdown).map(\.nodeId)))
    }

    /// True when `broker` may lead: registered and not shutting down (Kafka's "acceptable leader").
    public func canLead(_ broker: Int32) -> Bool { live.contains(broker) && !shuttingDown.contains(broker) }
}

/// Why the controller changed a partition (logged with every change).
public enum PartitionChangeReason: String, Sendable, Equatable {
    /// The leader's registration is gone; another ISR member leads.
    case leaderFailed = "leader_failed"
    /// A broker in controlled shutdown left leadership (another ISR member leads) or the ISR.
    case controlledShutdown = "controlled_shutdown"
    /// No ISR member may lead: the partition is offline until one comes back.
    case noEligibleLeader = "no_eligible_leader"
    /// An offline partition's ISR member is back and leads again.
    case offlinePartitionRecovered = "offline_partition_recovered"
    /// Only the ISR changed: unregistered (or shutting-down) members left it.
    case isrMemberUnavailable = "isr_member_unavailable"
    /// Preferred leader election (ElectLeaders or the automatic rebalance).
    case preferredLeader = "preferred_leader"
    /// Unclean election: a replica outside the ISR leads; records may be lost.
    case uncleanElection = "unclean_election"
    /// A reassignment started (AlterPartitionReassignments): the target replicas join `replicas`.
    case reassignmentStarted = "reassignment_started"
    /// Every target replica is in the ISR: the removed replicas leave (and leadership, if it was theirs).
    case reassignmentCompleted = "reassignment_completed"
    /// A reassignment was cancelled: the original replicas are restored.
    case reassignmentCancelled = "reassignment_cancelled"
}

/// One partition-state change the controller has to write.
public struct PartitionChange: Sendable, Equatable {
    public var partition: TopicPartition
    /// The state the change was computed from (its partition epoch is the compare-and-swap's).
    public var from: PartitionState
    /// The new state (same partition epoch as `from`: the store bumps it).
    public var to: PartitionState
    public var reason: PartitionChangeReason

    public init(partition: TopicPartition, from: PartitionState, to: PartitionState, reason: PartitionChangeReason) {
        self.partition = partition
        self.from = from
        self.to = to
        self.reason = reason
    }

    /// True when the leader changes (and with it the leader epoch).
    public var changesLeader: Bool { from.leader != to.leader }
}

/// ElectLeaders' election type (the wire value).
public enum ElectionType: Int8, Sendable, CaseIterable {
    /// The preferred replica (first in the replica list) leads, if it is in the ISR and may lead.
    case preferred = 0
    /// For a partition without a leader: an ISR member if one may lead, else any replica that may.
    case unclean = 1
}

/// Why an on-demand change (an election, a reassignment) was not made; each maps to Kafka's error.
public enum ElectionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The partition already has the leader the election would give it.
    case electionNotNeeded
    /// The preferred replica is not registered, shutting down, or not in the ISR.
    case preferredLeaderNotAvailable(preferred: Int32)
    /// No replica may lead (unclean election).
    case eligibleLeadersNotAvailable
    /// The topic or partition does not exist.
    case unknownPartition
    /// A reassignment's target is empty, names a broker twice or an unregistered broker, or cannot be
    /// reverted cleanly.
    case invalidReplicaAssignment(String)
    /// Cancelling a reassignment of a partition that has none.
    case noReassignmentInProgress

    public var errorCode: ErrorCode {
        switch self {
        case .electionNotNeeded: .electionNotNeeded
        case .preferredLeaderNotAvailable: .preferredLeaderNotAvailable
        case .eligibleLeadersNotAvailable: .eligibleLeadersNotAvailable
        case .unknownPartition: .unknownTopicOrPartition
        case .invalidReplicaAssignment: .invalidReplicaAssignment
        case .noReassignmentInProgress: .noReassignmentInProgress
        }
    }

    public var description: String {
        switch self {
        case .electionNotNeeded: "Leader election not needed for the partition."
        case .preferredLeaderNotAvailable(let preferred):
            "The preferred leader \(preferred) is not available (not registered, shutting down or not in the ISR)."
        case .eligibleLeadersNotAvailable: "No replica of the partition is available to lead."
        case .unknownPartition: "This server does not host this topic-partition."
        case .invalidReplicaAssignment(let reason): reason
        case .noReassignmentInProgress: "No partition reassignment is in progress."
        }
    }
}

/// The controller's rules. Every function returns the new state with the partition epoch unchanged.
public enum LeaderElection {
    /// What a partition needs after brokers came or went (or entered controlled shutdown), or nil when
    /// nothing: unregistered members leave the ISR, but never its last member (the partition then goes
    /// offline, leader -1, and that member is elected again when it returns); members in controlled
    /// shutdown leave it only while other members remain; a leader that may not lead is replaced by the
    /// first replica (in replica order) that may lead and is in the ISR, or by none. The leader epoch
    /// is bumped on every leader change, never on an ISR-only change. With `allowUnclean`
    /// (`unclean.leader.election.enable`) an offline partition takes any replica that may lead, as its
    /// only ISR member.
    public static func reconcile(_ state: PartitionState, liveness: BrokerLiveness,
                                 allowUnclean: Bool = false) -> (state: PartitionState, reason: PartitionChangeReason)? {
        var isr = state.isr.filter { liveness.live.contains($0) }
        if isr.isEmpty, !state.isr.isEmpty {
            // Every member is gone: keep the one with the best claim (the leader if it was a member), so
            // the partition can come back cleanly when it does.
            isr = [state.isr.contains(state.leader) ? state.leader : state.isr[0]]
        }
        for member in isr where liveness.shuttingDown.contains(member) && isr.count > 1 {
            isr.removeAll { $0 == member }
        }
        var next = state
        next.isr = isr
        if !(liveness.canLead(state.leader) && isr.contains(state.leader)) {
            if let candidate = state.replicas.first(where: { liveness.canLead($0) && isr.contains($0) }) {
                next.leader = candidate
            } else if allowUnclean, let candidate = state.replicas.first(where: liveness.canLead) {
                next.leader = candidate
                next.isr = [candidate]
            } else {
                next.leader = PartitionState.noLeader
            }
        }
        guard next != state else { return nil }
        let reason: PartitionChangeReason
        if next.leader == state.leader {
            let removed = state.isr.filter { !isr.contains($0) }
            reason = removed.allSatisfy(liveness.shuttingDown.contains) ? .controlledShutdown : .isrMemberUnavailable
        } else {
            next.leaderEpoch = state.leaderEpoch + 1
            if next.leader == PartitionState.noLeader {
                reason = .noEligibleLeader
            } else if !isr.contains(next.leader) {
                reason = .uncleanElection
            } else if state.leader == PartitionState.noLeader {
                reason = .offlinePartitionRecovered
            } else if liveness.shuttingDown.contains(state.leader) {
                reason = .controlledShutdown
            } else {
                reason = .leaderFailed
            }
        }
        return (next, reason)
    }

    /// Every change `reconcile` asks for in `image`, most urgent first: leader changes of client topics,
    /// then of internal topics (coordinators), then ISR-only changes; each group in topic and partition
    /// order. (After a broker with many leaderships dies, the partitions clients produce to get their
    /// new leaders first.) `allowUnclean` says, per topic name, whether unclean election is enabled for it.
    public static func reconcile(image: MetadataImage,
                                 allowUnclean: (String) -> Bool = { _ in false }) -> [PartitionChange] {
        let changes = reconcileInTopicOrder(image: image, allowUnclean: allowUnclean)
        func urgency(_ change: PartitionChange) -> Int {
            guard change.from.leader != change.to.leader else { return 2 }
            return image.topics[change.partition.topic]?.metadata.isInternal == true ? 1 : 0
        }
        return [0, 1, 2].flatMap { level in changes.filter { urgency($0) == level } }
    }

    private static func reconcileInTopicOrder(image: MetadataImage,
                                              allowUnclean: (String) -> Bool) -> [PartitionChange] {
        let liveness = BrokerLiveness(image: image)
        var changes: [PartitionChange] = []
        for name in image.topics.keys.sorted() {
            guard let topic = image.topics[name] else { continue }
            let unclean = allowUnclean(name)
            for (index, state) in topic.partitions.enumerated() {
                guard let (next, reason) = reconcile(state, liveness: liveness, allowUnclean: unclean) else { continue }
                changes.append(PartitionChange(partition: TopicPartition(topic: name, partition: Int32(index)),
                                               from: state, to: next, reason: reason))
            }
        }
        return changes
    }

    /// An on-demand election (ElectLeaders). Preferred: the first replica leads if it may and is in
    /// the ISR (not needed when it already leads). Unclean: only for a partition without a leader (not
    /// needed otherwise) — an ISR member that may lead, else any replica that may (it becomes the only
    /// ISR member).
    public static func elect(_ type: ElectionType, _ state: PartitionState,
                             liveness: BrokerLiveness) -> Result<(state: PartitionState, reason: PartitionChangeReason), ElectionFailure> {
        var next = state
        switch type {
        case .preferred:
            guard let preferred = state.replicas.first else { return .failure(.eligibleLeadersNotAvailable) }
            if state.leader == preferred { return .failure(.electionNotNeeded) }
            guard liveness.canLead(preferred), state.isr.contains(preferred) else {
                return .failure(.preferredLeaderNotAvailable(preferred: preferred))
            }
            next.leader = preferred
            next.leaderEpoch = state.leaderEpoch + 1
            return .success((next, .preferredLeader))
        case .unclean:
            if state.leader != PartitionState.noLeader { return .failure(.electionNotNeeded) }
            if let clean = state.replicas.first(where: { liveness.canLead($0) && state.isr.contains($0) }) {
                next.leader = clean
                next.leaderEpoch = state.leaderEpoch + 1
                return .success((next, .offlinePartitionRecovered))
            }
            guard let candidate = state.replicas.first(where: liveness.canLead) else {
                return .failure(.eligibleLeadersNotAvailable)
            }
            next.leader = candidate
            next.isr = [candidate]
            next.leaderEpoch = state.leaderEpoch + 1
            return .success((next, .uncleanElection))
        }
    }

    /// The partitions the automatic preferred-leader rebalance should move (Kafka's
    /// `auto.leader.rebalance.enable` check): for each broker that may lead, the share of the
    /// partitions it is preferred for but does not lead; when that share exceeds
    /// `imbalancePercentage`, those of its partitions whose preferred election would succeed.
    public static func imbalancedPartitions(image: MetadataImage, imbalancePercentage: Int) -> [TopicPartition] {
        let liveness = BrokerLiveness(image: image)
        var preferredCount: [Int32: Int] = [:]
        // Counted over every partition a broker is preferred for, as Kafka does (also those whose
        // preferred election cannot succeed yet); compared in integers.
        var notLeading: [Int32: Int] = [:]
        var movable: [Int32: [TopicPartition]] = [:]
        for name in image.topics.keys.sorted() {
            guard let topic = image.topics[name] else { continue }
            for (index, state) in topic.partitions.enumerated() {
                guard let preferred = state.replicas.first, liveness.canLead(preferred) else { continue }
                preferredCount[preferred, default: 0] += 1
                guard state.leader != preferred else { continue }
                notLeading[preferred, default: 0] += 1
                if state.isr.contains(preferred) {
                    movable[preferred, default: []].append(TopicPartition(topic: name, partition: Int32(index)))
                }
            }
        }
        var result: [TopicPartition] = []
        for broker in preferredCount.keys.sorted() {
            guard let total = preferredCount[broker], let moves = movable[broker] else { continue }
            if (notLeading[broker] ?? 0) * 100 > imbalancePercentage * total { result += moves }
        }
        return result
    }
}
