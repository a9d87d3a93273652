// PartitionStateWriter: writes a controller decision with `alterPartition`, recomputing it from the
// fresh image when another writer (a leader shrinking its ISR, another election) changed the
// partition first. One log line per change.
import KafkaProtocol
import Logging

/// The outcome of writing one partition's decision.
public enum PartitionWriteOutcome: Sendable {
    /// Stored: the new state, with its partition epoch.
    case changed(PartitionState, PartitionChangeReason)
    /// The fresh state needed no change.
    case unchanged
    /// The decision could not be made (on-demand elections only).
    case notElected(ElectionFailure)
    /// The write failed (fenced, store unavailable, kept losing the compare-and-swap).
    case failed(MetadataStoreError)
}

/// Applies controller decisions to one store.
public struct PartitionStateWriter: Sendable {
    /// What to do with a partition, decided from its current state and the brokers' liveness:
    /// nil = nothing, else the new state and why, or why it cannot be done.
    public typealias Decision = @Sendable (TopicPartition, PartitionState, BrokerLiveness)
        -> Result<(state: PartitionState, reason: PartitionChangeReason), ElectionFailure>?

    public let store: any MetadataStore
    public let logger: Logger
    /// Compare-and-swap attempts per partition before giving up (the next pass tries again).
    public var maxAttempts: Int
    /// How long to wait for the image to show the state that beat a compare-and-swap.
    public var catchUpTimeout: Duration

    public init(store: any MetadataStore, logger: Logger, maxAttempts: Int = 5, catchUpTimeout: Duration = .seconds(2)) {
        self.store = store
        self.logger = logger
        self.maxAttempts = maxAttempts
        self.catchUpTimeout = catchUpTimeout
    }

    /// Decides and writes one partition, up to `maxAttempts` times: after a lost compare-and-swap the
    /// decision is made again from the state that won.
    public func write(_ partition: TopicPartition, fencing: MetadataWriteFencing,
                      decide: Decision) async -> PartitionWriteOutcome {
        var lastError: MetadataStoreError = .contention("Partition \(partition)")
        for _ in 0..<max(1, maxAttempts) {
            let image = store.image
            guard let current = image.partition(partition) else { return .notElected(.unknownPartition) }
            let next: PartitionState, reason: PartitionChangeReason
            switch decide(partition, current, BrokerLiveness(image: image)) {
            case nil: return .unchanged
            case .failure(let failure): return .notElected(failure)
            case .success(let decision): (next, reason) = decision
            }
            do {
                let stored = try await store.alterPartition(partition, expectedPartitionEpoch: current.partitionEpoch,
                                                            to: next, fencing: fencing)
                log(partition, from: current, to: stored, reason: reason)
                return .changed(stored, reason)
            } catch {
                lastError = error
                guard case .stalePartitionEpoch(_, _, let winner) = error else { break }
                // Decide again once the image shows what won (it arrives through the store's watch).
                _ = await store.waitForImage(timeout: catchUpTimeout) { image in
                    (image.partition(partition)?.partitionEpoch ?? .max) >= winner
                }
                continue
            }
        }
        return .failed(lastError)  // the caller reports it (one line per pass, or in the response)
    }

    /// Starts (or replaces) a reassignment of one partition to `target` (AlterPartitionReassignments),
    /// decided again after a lost compare; `.unchanged` when it already has exactly these replicas.
    public func reassign(_ partition: TopicPartition, to target: [Int32], fencing: MetadataWriteFencing) async -> PartitionWriteOutcome {
        await write(partition, fencing: fencing) { _, state, liveness in
            PartitionReassignment.start(state, target: target, liveness: liveness)
        }
    }

    /// Cancels one partition's reassignment (AlterPartitionReassignments with null replicas).
    public func cancelReassignment(_ partition: TopicPartition, allowUnclean: Bool, fencing: MetadataWriteFencing) async -> PartitionWriteOutcome {
        await write(partition, fencing: fencing) { _, state, liveness in
            PartitionReassignment.cancel(state, liveness: liveness, allowUnclean: allowUnclean)
        }
    }

    /// An on-demand election of one partition (ElectLeaders), decided again after a lost compare.
    public func elect(_ type: ElectionType, _ partition: TopicPartition, fencing: MetadataWriteFencing) async -> PartitionWriteOutcome {
        await write(partition, fencing: fencing) { _, state, liveness in LeaderElection.elect(type, state, liveness: liveness) }
    }

    private func log(_ partition: TopicPartition, from: PartitionState, to: PartitionState, reason: PartitionChangeReason) {
        var metadata: Logger.Metadata = [
            "topic": "\(partition.topic)", "partition": "\(partition.partition)", "reason": "\(reason.rawValue)",
            "isr": "\(to.isr.map(String.init).joined(separator: ","))", "partition_epoch": "\(to.partitionEpoch)",
        ]
        if from.replicas != to.replicas || from.addingReplicas != to.addingReplicas || from.removingReplicas != to.removingReplicas {
            metadata["old_replicas"] = "\(from.replicas.map(String.init).joined(separator: ","))"
            metadata["replicas"] = "\(to.replicas.map(String.init).joined(separator: ","))"
            metadata["adding"] = "\(to.addingReplicas.map(String.init).joined(separator: ","))"
            metadata["removing"] = "\(to.removingReplicas.map(String.init).joined(separator: ","))"
        }
        if from.leader != to.leader {
            metadata["old_leader"] = "\(from.leader)"
            metadata["new_leader"] = "\(to.leader)"
            metadata["leader_epoch"] = "\(to.leaderEpoch)"
            if reason == .uncleanElection || to.leader == PartitionState.noLeader {
                logger.warning(to.leader == PartitionState.noLeader ? "partition offline" : "unclean leader election",
                               metadata: metadata)
            } else {
                logger.info("partition leader changed", metadata: metadata)
            }
        } else {
            metadata["old_isr"] = "\(from.isr.map(String.init).joined(separator: ","))"
            logger.info(from.replicas != to.replicas || from.isReassigning != to.isReassigning
                        ? "partition replicas changed" : "partition ISR changed", metadata: metadata)
        }
    }
}

extension MetadataStore {
    /// Waits until an image satisfies `condition` (the current one or a later update's), at most
    /// `timeout`; false when it did not happen in time or the store shut down.
    public func waitForImage(timeout: Duration, until condition: @escaping @Sendable (MetadataImage) -> Bool) async -> Bool {
        let stream = updates()  // subscribed before the check: no update can slip in between
        if condition(image) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await update in stream where condition(update.image) { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
