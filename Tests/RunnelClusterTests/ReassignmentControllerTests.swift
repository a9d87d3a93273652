// Partition reassignment against a real etcd, with three brokers' stores each running the controller
// loop: a reassignment started from a non-controller broker (as AlterPartitionReassignments does) is
// completed by the controller once the new replica is in the ISR (the leader's ISR expansion is
// simulated with alterPartition), leadership moves off the removed broker; cancelling restores the
// original replicas.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import Testing

extension LeadershipControllerTests {
    @Test("reassigning [1,2] to [2,3]: replicas [2,3,1] with 3 adding and 1 removing, then [2,3] once 3 is in the ISR; the leader moves off 1 with epoch + 1")
    func reassignmentCompletes() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let requester = try #require(nodes.values.first { $0.store.nodeId != controller }).store
        try await createTopic(requester, "moving", assignments: [[1, 2]])
        let key = partition(0, of: "moving")
        let writer = PartitionStateWriter(store: requester, logger: Self.logger)

        guard case .changed(let started, .reassignmentStarted) = await writer.reassign(key, to: [2, 3], fencing: .brokerEpoch) else {
            Issue.record("expected the reassignment to start"); return
        }
        #expect(started.replicas == [2, 3, 1] && started.addingReplicas == [3] && started.removingReplicas == [1])
        #expect(started.leader == 1 && started.isr == [1, 2])
        // The controller leaves it alone while 3 is not in sync.
        let stillWaiting = await eventually(timeout: .seconds(1)) { requester.partitionState(key)?.isReassigning == false }
        #expect(!stillWaiting)

        // The leader adds 3 to the ISR once it caught up (a CAS fenced on its registration, carrying
        // the reassignment on).
        let leaderStore = try #require(nodes[1]).store
        // Its view has the reassignment once its watch delivered the requester's write.
        #expect(await eventually { leaderStore.partitionState(key)?.isReassigning == true })
        let current = try #require(leaderStore.partitionState(key))
        var expanded = current
        expanded.isr = [1, 2, 3]
        _ = try await leaderStore.alterPartition(key, expectedPartitionEpoch: current.partitionEpoch, to: expanded, fencing: .brokerEpoch)

        #expect(await eventually { requester.partitionState(key)?.isReassigning == false })
        let done = try #require(requester.partitionState(key))
        #expect(done.replicas == [2, 3])
        #expect(done.isr == [2, 3])
        #expect(done.leader == 2 && done.leaderEpoch == started.leaderEpoch + 1)
        #expect(done.addingReplicas.isEmpty && done.removingReplicas.isEmpty)
        for node in nodes.values { await node.stop() }
    }

    @Test("cancelling a reassignment restores the original replicas; cancelling none is NO_REASSIGNMENT_IN_PROGRESS; unknown brokers are INVALID_REPLICA_ASSIGNMENT")
    func reassignmentCancelled() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let store = try #require(nodes[controller]).store
        let epoch = try #require(store.controller?.epoch)
        try await createTopic(store, "cancelled", assignments: [[1, 2]])
        let key = partition(0, of: "cancelled")
        let writer = PartitionStateWriter(store: store, logger: Self.logger)

        guard case .notElected(.noReassignmentInProgress) = await writer.cancelReassignment(key, allowUnclean: false, fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected NO_REASSIGNMENT_IN_PROGRESS"); return
        }
        guard case .notElected(.invalidReplicaAssignment) = await writer.reassign(key, to: [2, 7], fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected INVALID_REPLICA_ASSIGNMENT"); return
        }
        guard case .changed(let started, _) = await writer.reassign(key, to: [3, 2], fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected the reassignment to start"); return
        }
        #expect(started.replicas == [3, 2, 1] && started.isReassigning)
        guard case .changed(let reverted, .reassignmentCancelled) = await writer.cancelReassignment(
            key, allowUnclean: false, fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected the cancellation"); return
        }
        #expect(reverted.replicas == [2, 1] && reverted.isr == [1, 2] && reverted.leader == 1)
        #expect(reverted.leaderEpoch == started.leaderEpoch && !reverted.isReassigning)
        #expect(await eventually { store.partitionState(key) == reverted })
        for node in nodes.values { await node.stop() }
    }
}
