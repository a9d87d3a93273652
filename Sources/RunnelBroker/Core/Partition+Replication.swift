// Partition+Replication: the role a partition plays in cluster mode. The metadata store's partition
// state says who leads at which epoch and who is in sync; the leader moves the high watermark to the
// minimum log end offset over the ISR as followers fetch, asks for ISR changes, and completes the
// acks=all produces the high watermark passes. A follower's data arrives through the ReplicaFetcher.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import Synchronization

/// How a partition's role changed when a metadata state was applied.
enum RoleTransition: Sendable, Equatable {
    case unchanged
    /// This broker leads from now on (new epoch).
    case becameLeader(epoch: Int32)
    /// This broker follows `leader` (`PartitionState.noLeader`: nobody leads) from `epoch` on.
    case becameFollower(leader: Int32, epoch: Int32)
    /// The partition is no longer assigned to this broker.
    case unassigned
}

extension Partition {
    /// NOT_LEADER_OR_FOLLOWER unless this broker leads the partition now — and, in cluster mode, its
    /// registration is still live: a process that was paused past its lease's loss deadline refuses
    /// the requests queued meanwhile before its lease keeper has even run (another broker may lead).
    func leaderCheck() -> ErrorCode? {
        guard leadership.withLock({ $0.isLeader }) else { return .notLeaderOrFollower }
        if let live = clusterHooks.withLock({ $0.registrationLive }), !live() { return .notLeaderOrFollower }
        return nil
    }

    /// The replication state as this broker sees it.
    var leadershipSnapshot: PartitionLeadership { leadership.withLock { $0 } }

    // MARK: Applying the metadata store's state

    /// Applies the partition state the metadata store holds. A state older than the one applied (by
    /// partition epoch) is ignored; the same state again restores a fenced role.
    @discardableResult
    func apply(_ state: PartitionState, nowMs: Int64) -> RoleTransition {
        let (transition, lostLeadership) = leadership.withLock { l -> (RoleTransition, Bool) in
            let wasLeader = l.isLeader
            if state.partitionEpoch < l.partitionEpoch || state.leaderEpoch < l.leaderEpoch { return (.unchanged, false) }
            if state.partitionEpoch == l.partitionEpoch, state.leaderEpoch == l.leaderEpoch, l.role != .fenced,
               l.leader == state.leader, l.isr == state.isr, l.replicas == state.replicas,
               l.addingReplicas == state.addingReplicas, l.removingReplicas == state.removingReplicas {
                return (.unchanged, false)
            }
            let sameLeadership = l.role != .fenced && l.leader == state.leader && l.leaderEpoch == state.leaderEpoch
            l.partitionEpoch = state.partitionEpoch
            l.replicas = state.replicas
            l.isr = state.isr
            l.addingReplicas = state.addingReplicas
            l.removingReplicas = state.removingReplicas
            l.isrChangeInFlight = false
            guard state.replicas.contains(localNode) else {
                l.role = .fenced
                l.leader = state.leader
                l.leaderEpoch = state.leaderEpoch
                return (.unassigned, wasLeader)
            }
            if sameLeadership {
                l.followers = l.followers.filter { state.replicas.contains($0.key) }
                return (.unchanged, false)
            }
            l.leader = state.leader
            l.leaderEpoch = state.leaderEpoch
            if state.leader == localNode {
                l.role = .leader
                l.leaderEpochStartOffset = log.logEndOffset
                // Every follower starts with a full replica.lag.time.max.ms of grace and an unknown end.
                l.followers = [:]
                for replica in state.replicas where replica != localNode {
                    l.followers[replica] = FollowerProgress(lastCaughtUpMs: nowMs)
                }
                return (.becameLeader(epoch: state.leaderEpoch), false)
            }
            l.role = .follower
            l.followers = [:]
            return (.becameFollower(leader: state.leader, epoch: state.leaderEpoch), wasLeader)
        }
        if lostLeadership { replicationWaiters.failAll(.notLeaderOrFollower) }
        // Leadership moving is an event; a follower learning its leader (every partition at start) is not.
        if transition != .unchanged {
            var tookOver = false
            if case .becameLeader = transition { tookOver = state.partitionEpoch > 0 }
            let level: Logger.Level = lostLeadership || tookOver ? .info : .debug
            logger.log(level: level, "partition role changed", metadata: [
                "transition": "\(transition)", "isr": "\(state.isr)", "partition_epoch": "\(state.partitionEpoch)"])
        }
        // An ISR that shrank (or a new leader alone in it) may let the high watermark move.
        if replicated { advanceHighWatermark() }
        return transition
    }

    /// Stops acting as leader (the broker lost its registration: another broker may be elected now).
    func fence() {
        let wasLeader = leadership.withLock { l -> Bool in
            defer { l.role = .fenced }
            return l.isLeader
        }
        if wasLeader {
            replicationWaiters.failAll(.notLeaderOrFollower)
            logger.warning("stopped leading: cluster registration lost")
        }
    }

    // MARK: Leader

    /// Moves the high watermark to the minimum log end offset over the ISR (leader only, never back),
    /// then wakes parked fetches and completes the acks=all produces it passed.
    func advanceHighWatermark() {
        let moved: (hw: Int64, isr: Int)? = leadership.withLock { l in
            guard l.isLeader, let bound = l.highWatermarkBound(leaderEnd: log.logEndOffset, localNode: localNode),
                  bound > log.highWatermark else { return nil }
            return (log.updateHighWatermark(bound), l.isr.count)
        }
        guard let moved else { return }
        replicationWaiters.complete(upTo: moved.hw, isrSize: moved.isr)
        wakeWaiters()
    }

    /// A follower fetched from `fetchOffset`, durable up to `durableEndOffset` when it said so (a Runnel
    /// follower that fetches ahead of its fsyncs; else the fetch offset is its durable end): records its
    /// progress, moves the high watermark, and asks for its return to the ISR when it caught up and is
    /// `isrEligible` (a registered broker not in controlled shutdown, KIP-841). Returns
    /// NOT_LEADER_OR_FOLLOWER when this broker does not lead (any more).
    func recordFollowerFetch(replica: Int32, fetchOffset: Int64, durableEndOffset: Int64? = nil, nowMs: Int64,
                             isrEligible: Bool = true) -> ErrorCode? {
        let outcome: (ErrorCode?, IsrChangeRequest?) = leadership.withLock { l in
            guard l.isLeader else { return (.notLeaderOrFollower, nil) }
            guard l.replicas.contains(replica) else { return (nil, nil) }
            l.recordFetch(replica: replica, fetchOffset: fetchOffset, durableEndOffset: durableEndOffset,
                          leaderEnd: log.logEndOffset, nowMs: nowMs)
            return (nil, l.expansion(for: replica, highWatermark: log.highWatermark, eligible: isrEligible))
        }
        if outcome.0 == nil { advanceHighWatermark() }
        if let request = outcome.1 { requestIsrChange(request) }
        return outcome.0
    }

    /// KIP-320: where a follower that last fetched `lastFetchedEpoch` diverged from this log, nil when
    /// it did not (or cannot tell: no epoch sent). The follower truncates to the returned end offset.
    func divergence(lastFetchedEpoch: Int32, fetchOffset: Int64) -> (epoch: Int32, endOffset: Int64)? {
        guard lastFetchedEpoch >= 0 else { return nil }
        let found = log.endOffset(forLeaderEpoch: lastFetchedEpoch)
        guard found.leaderEpoch != lastFetchedEpoch || found.endOffset < fetchOffset else { return nil }
        // No epoch at or below the follower's here: (-1, log start) — a non-default value the follower
        // acts on (it keeps only what it knows was committed).
        if found.leaderEpoch < 0 { return (-1, max(log.logStartOffset, 0)) }
        return (found.leaderEpoch, found.endOffset)
    }

    /// Asks for an ISR shrink when followers fell behind for longer than `maxLagMs` (the replica
    /// manager's periodic check).
    func checkIsr(nowMs: Int64, maxLagMs: Int64) {
        let request = leadership.withLock { $0.shrink(nowMs: nowMs, maxLagMs: maxLagMs, localNode: localNode) }
        if let request { requestIsrChange(request) }
    }

    private func requestIsrChange(_ request: IsrChangeRequest) {
        guard let handler = clusterHooks.withLock({ $0.isrChange }) else {
            leadership.withLock { $0.isrChangeInFlight = false }
            return
        }
        logger.info("asking for an ISR change", metadata: ["isr": "\(request.state.isr)", "reason": "\(request.reason)"])
        handler(self, request)
    }

    /// The ISR change asked for finished: `applied` is the state the store now holds (nil: it failed,
    /// another may be asked for later).
    func isrChangeFinished(applied: PartitionState?) {
        if let applied {
            apply(applied, nowMs: Self.nowMs())
        } else {
            leadership.withLock { $0.isrChangeInFlight = false }
        }
    }

    /// Waits (leader) until the high watermark passes `lastOffset`, then calls `completion` with
    /// .none, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below `minInsync` meanwhile, or
    /// NOT_LEADER_OR_FOLLOWER when leadership was lost. The caller times it out with `ReplicationWait.fail`.
    func awaitReplication(through lastOffset: Int64, minInsync: Int,
                          completion: @escaping @Sendable (ErrorCode) -> Void) -> ReplicationWait {
        let wait = ReplicationWait(requiredHighWatermark: lastOffset + 1, minInsync: minInsync, completion: completion)
        replicationWaiters.add(wait)
        // The high watermark may have passed it before it was registered.
        let state = leadership.withLock { l in (l.isLeader, l.isr.count) }
        if !state.0 {
            wait.finish(.notLeaderOrFollower)
        } else {
            replicationWaiters.complete(upTo: log.highWatermark, isrSize: state.1)
        }
        return wait
    }

    /// The ISR size when acks=all may be accepted (min.insync.replicas), nil when not leading.
    var inSyncReplicaCount: Int? {
        leadership.withLock { $0.isLeader ? $0.isr.count : nil }
    }
}

/// One acks=all produce waiting for the high watermark. Finishes once.
final class ReplicationWait: Sendable {
    let requiredHighWatermark: Int64
    let minInsync: Int
    /// The completion in a struct, not as the `Mutex`'s value itself (decision 0026: `isDone` is read
    /// at every high-watermark move while the produce waits).
    private struct PendingCompletion: Sendable {
        let body: @Sendable (ErrorCode) -> Void
    }
    private let completion: Mutex<PendingCompletion?>

    init(requiredHighWatermark: Int64, minInsync: Int, completion: @escaping @Sendable (ErrorCode) -> Void) {
        self.requiredHighWatermark = requiredHighWatermark
        self.minInsync = minInsync
        self.completion = Mutex(PendingCompletion(body: completion))
    }

    var isDone: Bool { completion.withLock { $0 == nil } }

    /// Calls the completion with `code` unless it already ran.
    func finish(_ code: ErrorCode) {
        let pending = completion.withLock { c -> PendingCompletion? in
            defer { c = nil }
            return c
        }
        pending?.body(code)
    }
}

/// The acks=all produces of one partition waiting for its high watermark.
final class ReplicationWaiters: Sendable {
    private let waits = Mutex<[ReplicationWait]>([])

    func add(_ wait: ReplicationWait) {
        waits.withLock { $0.append(wait) }
    }

    /// Completes the waits the high watermark `hw` passed (and drops finished ones).
    func complete(upTo hw: Int64, isrSize: Int) {
        let due = waits.withLock { all -> [ReplicationWait] in
            var due: [ReplicationWait] = []
            all.removeAll { wait in
                if wait.isDone { return true }
                guard wait.requiredHighWatermark <= hw else { return false }
                due.append(wait)
                return true
            }
            return due
        }
        for wait in due { wait.finish(isrSize < wait.minInsync ? .notEnoughReplicasAfterAppend : .none) }
    }

    /// Fails every wait (leadership lost, partition closed).
    func failAll(_ code: ErrorCode) {
        let all = waits.withLock { w -> [ReplicationWait] in
            defer { w.removeAll() }
            return w
        }
        for wait in all { wait.finish(code) }
    }
}
