// The leader's replication rules: the high watermark is the minimum log end offset over the ISR (and
// waits for followers whose offset is unknown), Kafka's caught-up rule, ISR expansion only past the
// high watermark and the leader epoch's start, ISR shrink after replica.lag.time.max.ms, and one ISR
// change in flight at a time.
import KafkaRecords
import NIOCore
import RunnelCluster
import Testing
@testable import RunnelBroker

@Suite struct PartitionLeadershipTests {
    /// Node 1 leads replicas [1, 2, 3] with ISR `isr`, starting at `nowMs`.
    static func leader(isr: [Int32] = [1, 2, 3], nowMs: Int64 = 1_000, epochStart: Int64 = 0) -> PartitionLeadership {
        var l = PartitionLeadership(role: .leader, leader: 1, leaderEpoch: 4, partitionEpoch: 9, replicas: [1, 2, 3], isr: isr)
        l.leaderEpochStartOffset = epochStart
        for replica: Int32 in [2, 3] { l.followers[replica] = FollowerProgress(lastCaughtUpMs: nowMs) }
        return l
    }

    @Test func highWatermarkIsTheMinimumOverTheIsrAndWaitsForUnknownFollowers() {
        var l = Self.leader()
        #expect(l.highWatermarkBound(leaderEnd: 100, localNode: 1) == nil)
        l.recordFetch(replica: 2, fetchOffset: 80, leaderEnd: 100, nowMs: 1_100)
        #expect(l.highWatermarkBound(leaderEnd: 100, localNode: 1) == nil, "replica 3's end is still unknown")
        l.recordFetch(replica: 3, fetchOffset: 95, leaderEnd: 100, nowMs: 1_100)
        #expect(l.highWatermarkBound(leaderEnd: 100, localNode: 1) == 80)
        // A replica outside the ISR does not hold the high watermark back.
        var shrunk = Self.leader(isr: [1, 3])
        shrunk.recordFetch(replica: 2, fetchOffset: 10, leaderEnd: 100, nowMs: 1_100)
        shrunk.recordFetch(replica: 3, fetchOffset: 100, leaderEnd: 100, nowMs: 1_100)
        #expect(shrunk.highWatermarkBound(leaderEnd: 100, localNode: 1) == 100)
        // Alone in the ISR, the leader's own end is the bound.
        #expect(Self.leader(isr: [1]).highWatermarkBound(leaderEnd: 7, localNode: 1) == 7)
    }

    @Test func caughtUpFollowsKafkasRule() {
        var l = Self.leader(nowMs: 0)
        // Behind the leader's end now and never fetched before: not caught up.
        l.recordFetch(replica: 2, fetchOffset: 50, leaderEnd: 100, nowMs: 1_000)
        #expect(l.followers[2]?.lastCaughtUpMs == 0)
        // Reached the leader's end as of its previous fetch: caught up as of that fetch.
        l.recordFetch(replica: 2, fetchOffset: 100, leaderEnd: 120, nowMs: 2_000)
        #expect(l.followers[2]?.lastCaughtUpMs == 1_000)
        // Reached the leader's end now: caught up now.
        l.recordFetch(replica: 2, fetchOffset: 120, leaderEnd: 120, nowMs: 3_000)
        #expect(l.followers[2]?.lastCaughtUpMs == 3_000)
        #expect(l.followers[2]?.logEndOffset == 120)
    }

    @Test func aDurableEndSentBesideTheFetchOffsetHoldsTheHighWatermarkAndTheIsrButNotCaughtUp() {
        // Decision 0028: a follower fetching ahead of its fsyncs sends its durable end beside its position.
        var l = Self.leader(isr: [1, 2], nowMs: 0)
        l.recordFetch(replica: 2, fetchOffset: 120, durableEndOffset: 90, leaderEnd: 120, nowMs: 1_000)
        #expect(l.highWatermarkBound(leaderEnd: 120, localNode: 1) == 90, "only what is durable on the follower counts")
        #expect(l.followers[2]?.lastCaughtUpMs == 1_000, "caught up goes by the fetch position, as in Kafka")
        // A durable end above the position (a confused or lying follower) counts for no more than the position.
        l.recordFetch(replica: 2, fetchOffset: 100, durableEndOffset: 500, leaderEnd: 120, nowMs: 2_000)
        #expect(l.followers[2]?.logEndOffset == 100)
        // ISR expansion needs the durable end at the high watermark, not the position.
        var out = Self.leader(isr: [1, 2], nowMs: 0)
        out.recordFetch(replica: 3, fetchOffset: 120, durableEndOffset: 99, leaderEnd: 120, nowMs: 1_000)
        #expect(out.expansion(for: 3, highWatermark: 100) == nil)
        out.recordFetch(replica: 3, fetchOffset: 120, durableEndOffset: 100, leaderEnd: 120, nowMs: 1_100)
        let expansion = out.expansion(for: 3, highWatermark: 100)
        #expect(expansion?.state.isr == [1, 2, 3])
        // Without the tag (an older follower, or a Kafka-protocol replica) the fetch offset is the durable end.
        var plain = Self.leader(isr: [1, 2], nowMs: 0)
        plain.recordFetch(replica: 2, fetchOffset: 110, leaderEnd: 120, nowMs: 1_000)
        #expect(plain.highWatermarkBound(leaderEnd: 120, localNode: 1) == 110)
    }

    @Test func shrinkDropsFollowersLaggingLongerThanTheLimitOnceAtATime() throws {
        var l = Self.leader(nowMs: 0)
        l.recordFetch(replica: 2, fetchOffset: 100, leaderEnd: 100, nowMs: 9_000)
        #expect(l.shrink(nowMs: 9_500, maxLagMs: 10_000, localNode: 1) == nil)
        let shrink = l.shrink(nowMs: 10_001, maxLagMs: 10_000, localNode: 1)
        let request = try #require(shrink)
        #expect(request.state.isr == [1, 2])
        #expect(request.partitionEpoch == 9)
        #expect(request.state.leaderEpoch == 4, "an ISR change keeps the leader epoch")
        #expect(l.shrink(nowMs: 20_000, maxLagMs: 10_000, localNode: 1) == nil, "one change in flight at a time")
    }

    @Test func expansionNeedsTheHighWatermarkAndTheEpochStart() throws {
        var l = Self.leader(isr: [1, 2], epochStart: 60)
        l.recordFetch(replica: 3, fetchOffset: 50, leaderEnd: 100, nowMs: 1_100)
        #expect(l.expansion(for: 3, highWatermark: 40) == nil, "below the leader epoch's start offset")
        l.recordFetch(replica: 3, fetchOffset: 70, leaderEnd: 100, nowMs: 1_200)
        #expect(l.expansion(for: 3, highWatermark: 80) == nil, "below the high watermark")
        let expansion = l.expansion(for: 3, highWatermark: 70)
        let request = try #require(expansion)
        #expect(request.state.isr == [1, 2, 3], "in replica order")
        #expect(l.isrChangeInFlight)
        #expect(l.expansion(for: 3, highWatermark: 70) == nil)
        // A node that is not an assigned replica never joins.
        var other = Self.leader(isr: [1, 2])
        other.recordFetch(replica: 9, fetchOffset: 100, leaderEnd: 100, nowMs: 1_100)
        #expect(other.expansion(for: 9, highWatermark: 0) == nil)
    }

    @Test("a caught-up replica whose broker is shutting down or unregistered does not join the ISR (KIP-841)")
    func ineligibleBrokersStayOut() throws {
        var l = PartitionLeadership(role: .leader, leader: 1, leaderEpoch: 2, partitionEpoch: 5, replicas: [1, 2, 3], isr: [1, 3])
        l.recordFetch(replica: 2, fetchOffset: 100, leaderEnd: 100, nowMs: 1_000)
        let refused = l.expansion(for: 2, highWatermark: 100, eligible: false)
        #expect(refused == nil)
        #expect(!l.isrChangeInFlight, "a refused expansion leaves no change in flight")
        let granted = l.expansion(for: 2, highWatermark: 100, eligible: true)
        let request = try #require(granted)
        #expect(request.state.isr == [1, 2, 3])
    }

    @Test func followersAndFencedBrokersAskForNothing() {
        var follower = Self.leader()
        follower.role = .follower
        #expect(follower.shrink(nowMs: 1_000_000, maxLagMs: 1, localNode: 1) == nil)
        var fenced = Self.leader()
        fenced.role = .fenced
        fenced.recordFetch(replica: 3, fetchOffset: 100, leaderEnd: 100, nowMs: 1)
        #expect(fenced.expansion(for: 3, highWatermark: 0) == nil)
    }
}

/// A follower appends only the whole batches of a fetch answer (the leader cuts at the byte limit).
@Suite struct ReplicaFetchTrimTests {
    static func batch(baseOffset: Int64, records: Int) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(baseOffset: baseOffset)
        for i in 0..<records { builder.append(key: nil, value: "value-\(i)", timestamp: 1_000) }
        return try builder.build()
    }

    @Test func keepsOnlyCompleteBatches() throws {
        var first = try Self.batch(baseOffset: 0, records: 3)
        var second = try Self.batch(baseOffset: 3, records: 2)
        let third = try Self.batch(baseOffset: 5, records: 4)
        let wholeBytes = first.readableBytes + second.readableBytes
        var fetched = ByteBuffer()
        fetched.writeBuffer(&first)
        fetched.writeBuffer(&second)
        fetched.writeBytes(third.getBytes(at: third.readerIndex, length: third.readableBytes - 7) ?? [])
        let trimmed = try #require(ReplicaFetcher.completeBatches(fetched))
        #expect(trimmed.readableBytes == wholeBytes)
        // A lone partial batch (or a header cut short) gives nothing to append.
        #expect(ReplicaFetcher.completeBatches(third.getSlice(at: third.readerIndex, length: 40) ?? ByteBuffer()) == nil)
        #expect(ReplicaFetcher.completeBatches(third.getSlice(at: third.readerIndex, length: 10) ?? ByteBuffer()) == nil)
        #expect(ReplicaFetcher.completeBatches(third)?.readableBytes == third.readableBytes)
    }

    /// Catch-up pipelining asks for the next offset after the last whole batch, with that batch's epoch.
    @Test func nextOffsetAfterTheLastCompleteBatch() throws {
        var first = try Self.batch(baseOffset: 0, records: 3)
        var second = try Self.batch(baseOffset: 3, records: 2)
        second.setInteger(Int32(7), at: second.readerIndex + 12)  // partition leader epoch
        let third = try Self.batch(baseOffset: 5, records: 4)
        var fetched = ByteBuffer()
        fetched.writeBuffer(&first)
        fetched.writeBuffer(&second)
        fetched.writeBytes(third.getBytes(at: third.readerIndex, length: third.readableBytes - 7) ?? [])
        let next = try #require(ReplicaFetcher.lastCompleteBatch(fetched))
        #expect(next.nextOffset == 5)
        #expect(next.leaderEpoch == 7)
        #expect(ReplicaFetcher.lastCompleteBatch(third)?.nextOffset == 9)
        #expect(ReplicaFetcher.lastCompleteBatch(third.getSlice(at: third.readerIndex, length: 40) ?? ByteBuffer()) == nil)
        // A lying last-offset delta gives nothing (the fetch then starts from the log's end as usual).
        var lying = try Self.batch(baseOffset: Int64.max - 1, records: 1)
        lying.setInteger(Int32(5), at: lying.readerIndex + 23)
        #expect(ReplicaFetcher.lastCompleteBatch(lying) == nil)
    }

    /// Few partitions catching up share half the response budget; many get replica.fetch.max.bytes each.
    @Test func catchUpPartitionsShareHalfTheResponseBudget() {
        let oneMiB: Int32 = 1 << 20, tenMiB: Int32 = 10 << 20
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: oneMiB, responseMax: tenMiB, catchingUp: 0) == oneMiB)
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: oneMiB, responseMax: tenMiB, catchingUp: 1) == 5 << 20)
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: oneMiB, responseMax: tenMiB, catchingUp: 2) == tenMiB / 4)
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: oneMiB, responseMax: tenMiB, catchingUp: 10) == oneMiB)
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: oneMiB, responseMax: tenMiB, catchingUp: 40) == oneMiB)
        // A configured size above the share wins.
        #expect(ReplicaFetcher.catchUpPartitionBytes(perPartition: 8 << 20, responseMax: tenMiB, catchingUp: 1) == 8 << 20)
    }

    /// num.replica.fetchers: a new partition goes to the leader's loop with the fewest partitions, the
    /// lowest slot on a tie; one loop per leader when the setting is 1.
    @Test func newPartitionsGoToTheLeastLoadedFetchLoop() {
        let loads: [ReplicaFetcherManager.LoopKey: Int] = [
            .init(leader: 2, slot: 0): 3, .init(leader: 2, slot: 1): 1, .init(leader: 2, slot: 2): 1,
            .init(leader: 3, slot: 0): 0,
        ]
        let load = { (key: ReplicaFetcherManager.LoopKey) in loads[key] ?? 0 }
        #expect(ReplicaFetcherManager.slot(for: 2, slots: 3, load: load) == .init(leader: 2, slot: 1))
        #expect(ReplicaFetcherManager.slot(for: 2, slots: 4, load: load) == .init(leader: 2, slot: 3))
        #expect(ReplicaFetcherManager.slot(for: 2, slots: 1, load: load) == .init(leader: 2, slot: 0))
        #expect(ReplicaFetcherManager.slot(for: 3, slots: 2, load: load) == .init(leader: 3, slot: 0))
        #expect(ReplicaFetcherManager.slot(for: 4, slots: 0, load: load) == .init(leader: 4, slot: 0))
    }
}
