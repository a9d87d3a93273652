// PartitionReassignment: the controller's rules for moving a partition to other brokers (Kafka's
// PartitionReassignmentReplicas and PartitionReassignmentRevert, and the reassignment steps of its
// PartitionChangeBuilder), as pure functions of a partition's state and the brokers' liveness. No I/O:
// `PartitionStateWriter` writes what these decide.
//
// A reassignment goes through two writes. Starting it puts target ∪ current into `replicas` (target
// order first) and records `addingReplicas` (target − current) and `removingReplicas` (current −
// target); the new replicas then fetch from the leader and the leader adds them to the ISR as they
// catch up. Once every target replica is in the ISR the controller completes it: `replicas` becomes
// the target, the ISR loses the removed replicas, a removed leader hands over to a target ISR member
// (leader epoch + 1), and adding/removing are cleared.
import KafkaProtocol

/// The reassignment rules. Every function returns the new state with the partition epoch unchanged.
public enum PartitionReassignment {
    /// Starts a reassignment of `state` to `target`, or replaces the one in progress (as Kafka does, the
    /// current replicas are then `state.replicas`, the previous target included). Completes it at once
    /// when nothing has to catch up (a reordering, or removals while every remaining replica is in the ISR),
    /// exactly as `complete` would. nil when the partition already has exactly these replicas and no
    /// reassignment is in progress.
    ///
    /// The target must be non-empty, name no broker twice, and only brokers registered now
    /// (INVALID_REPLICA_ASSIGNMENT otherwise).
    public static func start(_ state: PartitionState, target: [Int32],
                             liveness: BrokerLiveness) -> Result<(state: PartitionState, reason: PartitionChangeReason), ElectionFailure>? {
        if let invalid = validate(target, liveness: liveness) { return .failure(invalid) }
        let current = state.replicas
        let removing = current.filter { !target.contains($0) }
        let adding = target.filter { !current.contains($0) }
        var next = state
        next.replicas = target + removing
        next.addingReplicas = adding
        next.removingReplicas = removing
        if let (completed, _) = complete(next, liveness: liveness) {
            next = completed
        }
        guard next != state else { return nil }
        return .success((next, next.isReassigning ? .reassignmentStarted : .reassignmentCompleted))
    }

    /// Why `target` cannot be a partition's replica list, nil when it can.
    public static func validate(_ target: [Int32], liveness: BrokerLiveness) -> ElectionFailure? {
        guard !target.isEmpty else {
            return .invalidReplicaAssignment("The manual partition assignment includes an empty replica list.")
        }
        guard Set(target).count == target.count else {
            return .invalidReplicaAssignment("The manual partition assignment \(target) includes a broker more than once.")
        }
        if let unknown = target.first(where: { !liveness.live.contains($0) }) {
            return .invalidReplicaAssignment("The manual partition assignment includes broker \(unknown), but no such broker is registered.")
        }
        return nil
    }

    /// Completes a reassignment in progress, or nil when it cannot be completed yet (Kafka's
    /// `maybeCompleteReassignment`): every target replica must be in the ISR and at least one ISR member
    /// must remain. `replicas` becomes the target and the ISR loses the removed replicas. When the
    /// leader is removed (or there is none), the first target replica that is in the ISR and may lead
    /// takes over with leader epoch + 1; when none may, the reassignment waits rather than take the
    /// partition offline.
    public static func complete(_ state: PartitionState, liveness: BrokerLiveness) -> (state: PartitionState, reason: PartitionChangeReason)? {
        guard state.isReassigning else { return nil }
        let target = state.targetReplicas
        let isr = state.isr.filter { !state.removingReplicas.contains($0) }
        guard !isr.isEmpty, !target.isEmpty, target.allSatisfy(isr.contains) else { return nil }
        var next = state
        next.replicas = target
        next.isr = isr
        next.addingReplicas = []
        next.removingReplicas = []
        if !target.contains(state.leader) {
            guard let leader = target.first(where: { isr.contains($0) && liveness.canLead($0) }) else { return nil }
            next.leader = leader
            next.leaderEpoch = state.leaderEpoch + 1
        }
        return (next, .reassignmentCompleted)
    }

    /// Cancels a reassignment in progress (AlterPartitionReassignments with null replicas; Kafka's
    /// `PartitionReassignmentRevert`): the original replicas (`replicas` − adding) come back, the adding
    /// replicas leave the ISR. When that would leave the ISR empty (only adding replicas were in sync),
    /// the first original replica becomes the ISR — an unclean election, refused unless `allowUnclean`.
    /// A leader that is not an original ISR member hands over to the first original replica in the
    /// ISR that may lead (none: the partition is offline until one can), leader epoch + 1.
    public static func cancel(_ state: PartitionState, liveness: BrokerLiveness,
                              allowUnclean: Bool = false) -> Result<(state: PartitionState, reason: PartitionChangeReason), ElectionFailure> {
        guard state.isReassigning else { return .failure(.noReassignmentInProgress) }
        let original = state.originalReplicas
        guard let first = original.first else {
            return .failure(.invalidReplicaAssignment("Invalid replica assignment: addingReplicas contains all replicas."))
        }
        var isr = state.isr.filter { !state.addingReplicas.contains($0) }
        if isr.isEmpty {
            guard allowUnclean else {
                return .failure(.invalidReplicaAssignment(
                    "Unable to revert the partition assignment because it would require an unclean leader election."))
            }
            isr = [first]
        }
        var next = state
        next.replicas = original
        next.isr = isr
        next.addingReplicas = []
        next.removingReplicas = []
        if !(original.contains(state.leader) && isr.contains(state.leader) && liveness.canLead(state.leader)) {
            next.leader = original.first { isr.contains($0) && liveness.canLead($0) } ?? PartitionState.noLeader
        }
        if next.leader != state.leader { next.leaderEpoch = state.leaderEpoch + 1 }
        return .success((next, .reassignmentCancelled))
    }

    /// The partitions of `image` whose reassignment `complete` would finish now, in topic and
    /// partition order.
    public static func completions(image: MetadataImage) -> [PartitionChange] {
        let liveness = BrokerLiveness(image: image)
        var changes: [PartitionChange] = []
        for name in image.topics.keys.sorted() {
            guard let topic = image.topics[name] else { continue }
            for (index, state) in topic.partitions.enumerated() where state.isReassigning {
                guard let (next, reason) = complete(state, liveness: liveness) else { continue }
                changes.append(PartitionChange(partition: TopicPartition(topic: name, partition: Int32(index)),
                                               from: state, to: next, reason: reason))
            }
        }
        return changes
    }
}
