// A leader during a reassignment: an adding replica fetches and joins the ISR once caught up, and the
// ISR changes the leader writes carry the reassignment (adding/removing replicas) on unchanged.
import RunnelCluster
import Testing
@testable import RunnelBroker

@Suite struct PartitionLeadershipReassignmentTests {
    @Test("an adding replica joins the ISR once caught up; the change keeps replicas, adding and removing")
    func expansionCarriesTheReassignment() throws {
        // [1, 2] moving to [2, 3]: replicas [2, 3, 1], 3 adding, 1 removing; 1 leads.
        var l = PartitionLeadership(role: .leader, leader: 1, leaderEpoch: 4, partitionEpoch: 9, replicas: [2, 3, 1], isr: [1, 2])
        l.addingReplicas = [3]
        l.removingReplicas = [1]
        l.followers[2] = FollowerProgress(lastCaughtUpMs: 1_000)
        l.recordFetch(replica: 3, fetchOffset: 40, leaderEnd: 100, nowMs: 1_100)
        #expect(l.expansion(for: 3, highWatermark: 100) == nil, "not caught up yet")
        l.recordFetch(replica: 3, fetchOffset: 100, leaderEnd: 100, nowMs: 1_200)
        let expansion = l.expansion(for: 3, highWatermark: 100)
        let request = try #require(expansion)
        #expect(request.partitionEpoch == 9)
        #expect(request.state.isr == [2, 3, 1])
        #expect(request.state.replicas == [2, 3, 1])
        #expect(request.state.addingReplicas == [3] && request.state.removingReplicas == [1])
    }

    @Test("a shrink during a reassignment keeps it too")
    func shrinkCarriesTheReassignment() throws {
        var l = PartitionLeadership(role: .leader, leader: 2, leaderEpoch: 4, partitionEpoch: 9, replicas: [2, 3, 1], isr: [2, 1])
        l.addingReplicas = [3]
        l.removingReplicas = [1]
        l.followers[1] = FollowerProgress(lastCaughtUpMs: 0)
        let shrink = l.shrink(nowMs: 60_000, maxLagMs: 30_000, localNode: 2)
        let request = try #require(shrink)
        #expect(request.state.isr == [2])
        #expect(request.state.addingReplicas == [3] && request.state.removingReplicas == [1])
    }
}
