// PartitionLeadership: one partition's replication role as this broker plays it (Kafka's Partition
// leader/follower state): the leader epoch, the ISR as the metadata store last said, each follower's
// log end offset and when it was last caught up, the high watermark rule (minimum log end offset over
// the ISR), and the acks=all produces waiting for it. Pure state: `Partition` holds it under a lock and
// does the I/O (moving the log's high watermark, waking waiters, asking for ISR changes).
import KafkaProtocol
import RunnelCluster

/// What this broker is for a partition.
enum PartitionRole: Sendable, Equatable {
    /// It leads: clients produce and fetch here, followers fetch from here.
    case leader
    /// It follows `PartitionLeadership.leader` (or no one, while the partition has no leader).
    case follower
    /// It lost its cluster registration (or the partition is not assigned to it): it serves nothing
    /// until the metadata store says again what it is.
    case fenced
}

/// A follower's replication progress as its leader sees it (from its fetches).
struct FollowerProgress: Sendable, Equatable {
    /// The follower's durable log end offset (its last fetch offset, or the durable end offset it sent
    /// beside it when lower); -1 while unknown. The high watermark and ISR expansion go by it.
    var logEndOffset: Int64 = -1
    /// When the follower last fetched (ms).
    var lastFetchMs: Int64 = 0
    /// The leader's log end offset when the follower last fetched.
    var leaderEndAtLastFetch: Int64 = 0
    /// When the follower last had everything the leader had (ms): the ISR rule's clock.
    var lastCaughtUpMs: Int64
}

/// An ISR change the leader asks the metadata store for.
struct IsrChangeRequest: Sendable, Equatable {
    var partitionEpoch: Int32
    var state: PartitionState
    var reason: String
}

/// One partition's replication state on this broker. A value type: `Partition` keeps it in a Mutex.
struct PartitionLeadership: Sendable {
    var role: PartitionRole
    /// The leader's node id (`PartitionState.noLeader` when none).
    var leader: Int32
    var leaderEpoch: Int32
    var partitionEpoch: Int32
    var replicas: [Int32]
    var isr: [Int32]
    /// A reassignment in progress (the store's adding / removing replicas), kept so the ISR changes
    /// this leader writes carry it on.
    var addingReplicas: [Int32] = []
    var removingReplicas: [Int32] = []
    /// The leader's log end offset when this leadership began: a follower joins the ISR only once it
    /// has reached it (it then has every record of the earlier epochs this leader kept).
    var leaderEpochStartOffset: Int64 = 0
    /// Followers' progress (leader only), by node id.
    var followers: [Int32: FollowerProgress] = [:]
    /// An ISR change is being written; no other is asked for until it is applied or failed.
    var isrChangeInFlight = false

    /// A single node: this broker leads at epoch 0 with itself as the only replica.
    static func singleNode(_ nodeId: Int32) -> PartitionLeadership {
        PartitionLeadership(role: .leader, leader: nodeId, leaderEpoch: 0, partitionEpoch: 0, replicas: [nodeId],
                            isr: [nodeId])
    }

    /// Cluster mode before the metadata store's state is applied: fenced, below every real epoch.
    static let unassigned = PartitionLeadership(role: .fenced, leader: PartitionState.noLeader, leaderEpoch: -1,
                                                partitionEpoch: -1, replicas: [], isr: [])

    var isLeader: Bool { role == .leader }

    /// The partition state this leadership was made from (the base of an ISR compare-and-swap).
    var partitionState: PartitionState {
        PartitionState(replicas: replicas, leader: leader, leaderEpoch: leaderEpoch, isr: isr,
                       partitionEpoch: partitionEpoch, addingReplicas: addingReplicas, removingReplicas: removingReplicas)
    }

    /// The high watermark the ISR allows: the minimum log end offset over the ISR (the leader's own is
    /// `leaderEnd`); nil while an ISR follower's offset is unknown.
    func highWatermarkBound(leaderEnd: Int64, localNode: Int32) -> Int64? {
        var bound = leaderEnd
        for replica in isr where replica != localNode {
            guard let end = followers[replica]?.logEndOffset, end >= 0 else { return nil }
            bound = min(bound, end)
        }
        return bound
    }

    /// Records a follower's fetch at `fetchOffset`. Its durable end is `durableEndOffset` when the fetch
    /// carried one (a Runnel follower fetching ahead of its fsyncs, decision 0028), else the fetch offset
    /// (everything below is durable on it, unless the offset is below the high watermark, where a
    /// catching-up follower may report what it is still syncing: such an offset moves neither the high
    /// watermark nor the ISR). Kafka's rule for "caught up", by the fetch position: the fetch reached the
    /// leader's end now, or the leader's end at its previous fetch.
    mutating func recordFetch(replica: Int32, fetchOffset: Int64, durableEndOffset: Int64? = nil, leaderEnd: Int64,
                              nowMs: Int64) {
        var progress = followers[replica] ?? FollowerProgress(lastCaughtUpMs: nowMs)
        if fetchOffset >= leaderEnd {
            progress.lastCaughtUpMs = nowMs
        } else if fetchOffset >= progress.leaderEndAtLastFetch, progress.lastFetchMs > 0 {
            progress.lastCaughtUpMs = max(progress.lastCaughtUpMs, progress.lastFetchMs)
        }
        progress.logEndOffset = durableEndOffset.map { min($0, fetchOffset) } ?? fetchOffset
        progress.leaderEndAtLastFetch = leaderEnd
        progress.lastFetchMs = nowMs
        followers[replica] = progress
    }

    /// The ISR expansion a follower's fetch earns, if any: it is an assigned replica outside the ISR and
    /// has reached both the high watermark and the start of this leader's epoch, and its broker is
    /// `eligible` (KIP-841: registered and not in controlled shutdown — a broker on its way down, or a
    /// fetch parked by a process that has since stopped, must not bring it back).
    mutating func expansion(for replica: Int32, highWatermark: Int64, eligible: Bool = true) -> IsrChangeRequest? {
        guard eligible, isLeader, !isrChangeInFlight, replicas.contains(replica), !isr.contains(replica),
              let progress = followers[replica],
              progress.logEndOffset >= highWatermark, progress.logEndOffset >= leaderEpochStartOffset else { return nil }
        var state = partitionState
        state.isr = replicas.filter { isr.contains($0) || $0 == replica }
        isrChangeInFlight = true
        return IsrChangeRequest(partitionEpoch: partitionEpoch, state: state,
                                reason: "replica \(replica) caught up to offset \(progress.logEndOffset)")
    }

    /// The ISR shrink due at `nowMs`: followers that were not caught up for longer than `maxLagMs`.
    mutating func shrink(nowMs: Int64, maxLagMs: Int64, localNode: Int32) -> IsrChangeRequest? {
        guard isLeader, !isrChangeInFlight else { return nil }
        let lagging = isr.filter { replica in
            guard replica != localNode else { return false }
            let caughtUp = followers[replica]?.lastCaughtUpMs ?? 0
            return nowMs - caughtUp > maxLagMs
        }
        guard !lagging.isEmpty else { return nil }
        var state = partitionState
        state.isr = isr.filter { !lagging.contains($0) }
        isrChangeInFlight = true
        return IsrChangeRequest(partitionEpoch: partitionEpoch, state: state,
                                reason: "replicas \(lagging) not caught up for more than replica.lag.time.max.ms=\(maxLagMs)")
    }
}
