// PartitionReassignment's rules without etcd: starting (replicas = target ∪ current, adding, removing),
// validation, completion once every target replica is in the ISR (leader moved off a removed broker),
// cancellation, and the records' JSON (old records without the new keys still decode).
import Foundation
import KafkaProtocol
import RunnelCluster
import Testing

@Suite("PartitionReassignment")
struct PartitionReassignmentTests {
    let live = BrokerLiveness(live: [1, 2, 3, 4])

    func state(_ replicas: [Int32], leader: Int32, isr: [Int32]? = nil) -> PartitionState {
        PartitionState(replicas: replicas, leader: leader, leaderEpoch: 5, isr: isr ?? replicas, partitionEpoch: 9)
    }

    func started(_ from: PartitionState, _ target: [Int32]) throws -> PartitionState {
        let result = try #require(PartitionReassignment.start(from, target: target, liveness: live))
        return try result.get().state
    }

    @Test("starting: replicas = target then the removed ones, adding = target − current, removing = current − target; leader and ISR unchanged")
    func start() throws {
        let next = try started(state([1, 2], leader: 1), [2, 3])
        #expect(next.replicas == [2, 3, 1])
        #expect(next.addingReplicas == [3])
        #expect(next.removingReplicas == [1])
        #expect(next.leader == 1 && next.leaderEpoch == 5 && next.isr == [1, 2])
        #expect(next.partitionEpoch == 9)  // the store bumps it
        #expect(next.isReassigning && next.targetReplicas == [2, 3] && next.originalReplicas == [2, 1])
        let result = try #require(PartitionReassignment.start(state([1, 2], leader: 1), target: [2, 3], liveness: live))
        #expect(try result.get().reason == .reassignmentStarted)
    }

    @Test("invalid targets: empty, a broker twice, an unregistered broker (INVALID_REPLICA_ASSIGNMENT)")
    func invalidTargets() throws {
        for target: [Int32] in [[], [2, 2], [2, 9]] {
            let result = try #require(PartitionReassignment.start(state([1, 2], leader: 1), target: target, liveness: live))
            guard case .failure(let failure) = result else {
                Issue.record("target \(target) accepted")
                continue
            }
            #expect(failure.errorCode == .invalidReplicaAssignment)
        }
    }

    @Test("the same replicas with no reassignment in progress: nothing to do; a reordering completes at once")
    func noOpAndReorder() throws {
        #expect(PartitionReassignment.start(state([1, 2], leader: 1), target: [1, 2], liveness: live) == nil)
        let result = try #require(PartitionReassignment.start(state([1, 2], leader: 1), target: [2, 1], liveness: live))
        let (next, reason) = try result.get()
        #expect(next.replicas == [2, 1] && !next.isReassigning && reason == .reassignmentCompleted)
        #expect(next.leader == 1 && next.leaderEpoch == 5)
    }

    @Test("removing only a replica while the others are in the ISR completes at once")
    func shrinkCompletesAtOnce() throws {
        let next = try started(state([1, 2, 3], leader: 1), [1, 2])
        #expect(next.replicas == [1, 2] && next.isr == [1, 2] && !next.isReassigning)
    }

    @Test("completion waits until every target replica is in the ISR, then drops the removed replicas and moves leadership off them (epoch + 1)")
    func complete() throws {
        var s = try started(state([1, 2], leader: 1), [2, 3])
        #expect(PartitionReassignment.complete(s, liveness: live) == nil)  // 3 is not in sync yet
        s.isr = [1, 2, 3]  // the leader added 3 once it caught up
        let (next, reason) = try #require(PartitionReassignment.complete(s, liveness: live))
        #expect(reason == .reassignmentCompleted)
        #expect(next.replicas == [2, 3] && next.isr == [2, 3])
        #expect(next.addingReplicas.isEmpty && next.removingReplicas.isEmpty)
        #expect(next.leader == 2 && next.leaderEpoch == 6)
    }

    @Test("completion keeps a leader that stays, without an epoch bump")
    func completeKeepsLeader() throws {
        var s = try started(state([1, 2], leader: 2), [2, 3])
        s.isr = [2, 1, 3]
        let (next, _) = try #require(PartitionReassignment.complete(s, liveness: live))
        #expect(next.leader == 2 && next.leaderEpoch == 5 && next.isr == [2, 3])
    }

    @Test("completion waits when no target ISR member may lead (rather than taking the partition offline)")
    func completeWaitsForALeader() throws {
        var s = try started(state([1], leader: 1), [2])
        s.isr = [1, 2]
        #expect(PartitionReassignment.complete(s, liveness: BrokerLiveness(live: [1, 2], shuttingDown: [2])) == nil)
        let (next, _) = try #require(PartitionReassignment.complete(s, liveness: live))
        #expect(next.leader == 2 && next.replicas == [2] && next.isr == [2])
    }

    @Test("a new reassignment replaces the one in progress, from the current replica list")
    func replace() throws {
        let first = try started(state([1, 2], leader: 1), [2, 3])
        let second = try started(first, [2, 4])
        #expect(second.replicas == [2, 4, 3, 1])
        #expect(second.addingReplicas == [4])
        #expect(second.removingReplicas == [3, 1])
    }

    @Test("cancelling restores the original replicas and drops the adding ones from the ISR")
    func cancel() throws {
        var s = try started(state([1, 2], leader: 1), [2, 3])
        s.isr = [1, 2, 3]
        let (next, reason) = try PartitionReassignment.cancel(s, liveness: live).get()
        #expect(reason == .reassignmentCancelled)
        #expect(next.replicas == [2, 1] && next.isr == [1, 2] && !next.isReassigning)
        #expect(next.leader == 1 && next.leaderEpoch == 5)
    }

    @Test("cancelling moves leadership off an adding replica (epoch + 1)")
    func cancelMovesLeader() throws {
        var s = try started(state([1, 2], leader: 1), [3, 2])
        s.isr = [1, 2, 3]
        s.leader = 3  // a preferred election made the new replica lead
        let (next, _) = try PartitionReassignment.cancel(s, liveness: live).get()
        #expect(next.replicas == [2, 1] && next.leader == 2 && next.leaderEpoch == 6)
    }

    @Test("cancelling nothing: NO_REASSIGNMENT_IN_PROGRESS; a revert that needs an unclean election is refused unless allowed")
    func cancelErrors() throws {
        guard case .failure(let none) = PartitionReassignment.cancel(state([1, 2], leader: 1), liveness: live) else {
            Issue.record("cancelled a partition without a reassignment")
            return
        }
        #expect(none.errorCode == .noReassignmentInProgress)
        var s = try started(state([1], leader: 1), [2])
        s.isr = [2]
        s.leader = 2
        guard case .failure(let unclean) = PartitionReassignment.cancel(s, liveness: live) else {
            Issue.record("an unclean revert was accepted")
            return
        }
        #expect(unclean.errorCode == .invalidReplicaAssignment)
        let (next, _) = try PartitionReassignment.cancel(s, liveness: live, allowUnclean: true).get()
        #expect(next.replicas == [1] && next.isr == [1] && next.leader == 1 && next.leaderEpoch == 6)
    }

    @Test("the image's completions list only reassigning partitions ready to complete")
    func completions() throws {
        var image = MetadataImage(clusterId: "c")
        for id: Int32 in 1...3 { image.brokers[id] = BrokerRegistration(nodeId: id, listeners: []) }
        let topic = TopicMetadata(name: "t", topicId: KafkaUUID.random(), partitionCount: 3, replicationFactor: 2)
        var ready = try started(state([1, 2], leader: 1), [2, 3])
        ready.isr = [1, 2, 3]
        let waiting = try started(state([1, 2], leader: 1), [2, 3])
        image.setTopic(TopicImage(metadata: topic, partitions: [state([1, 2], leader: 1), ready, waiting]))
        let changes = PartitionReassignment.completions(image: image)
        #expect(changes.map(\.partition) == [TopicPartition(topic: "t", partition: 1)])
    }

    @Test("JSON: adding/removing as snake_case keys only while reassigning; records without them decode")
    func coding() throws {
        let old = #"{"isr":[1,2],"leader":1,"leader_epoch":2,"partition_epoch":3,"replicas":[1,2]}"#
        let decoded = try JSONDecoder().decode(PartitionState.self, from: Data(old.utf8))
        #expect(decoded == PartitionState(replicas: [1, 2], leader: 1, leaderEpoch: 2, isr: [1, 2], partitionEpoch: 3))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self) == old)
        let moving = try started(decoded, [2, 3])
        let json = String(decoding: try encoder.encode(moving), as: UTF8.self)
        #expect(json.contains(#""adding_replicas":[3]"#) && json.contains(#""removing_replicas":[1]"#))
        #expect(try JSONDecoder().decode(PartitionState.self, from: Data(json.utf8)) == moving)
    }
}
