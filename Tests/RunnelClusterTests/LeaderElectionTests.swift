// LeaderElection's rules without etcd: failover from the ISR, the last ISR member kept when the
// partition goes offline, its return, controlled shutdown, preferred and unclean elections, the
// imbalance check, and the movable leaderships a controlled shutdown waits for.
import KafkaProtocol
import RunnelCluster
import Testing

@Suite("LeaderElection")
struct LeaderElectionTests {
    func state(_ replicas: [Int32], leader: Int32, epoch: Int32 = 3, isr: [Int32]? = nil) -> PartitionState {
        PartitionState(replicas: replicas, leader: leader, leaderEpoch: epoch, isr: isr ?? replicas, partitionEpoch: 7)
    }

    @Test("a dead leader is replaced by the first live ISR member in replica order, leader epoch + 1; the dead broker leaves the ISR")
    func leaderFailover() throws {
        let live = BrokerLiveness(live: [2, 3])
        let (next, reason) = try #require(LeaderElection.reconcile(state([1, 3, 2], leader: 1), liveness: live))
        #expect(next.leader == 3)
        #expect(next.leaderEpoch == 4)
        #expect(next.isr == [3, 2])
        #expect(next.partitionEpoch == 7)  // the store bumps it
        #expect(reason == .leaderFailed)
    }

    @Test("a dead follower leaves the ISR without a leader epoch bump")
    func followerFailure() throws {
        let (next, reason) = try #require(LeaderElection.reconcile(state([1, 2, 3], leader: 1), liveness: BrokerLiveness(live: [1, 3])))
        #expect(next.leader == 1 && next.leaderEpoch == 3 && next.isr == [1, 3])
        #expect(reason == .isrMemberUnavailable)
    }

    @Test("a live replica outside the ISR is never elected without unclean election")
    func outOfSyncReplicaNotElected() throws {
        let (next, _) = try #require(LeaderElection.reconcile(state([1, 2, 3], leader: 1, isr: [1, 3]),
                                                              liveness: BrokerLiveness(live: [2])))
        #expect(next.leader == PartitionState.noLeader)
        #expect(next.isr == [1])  // the leader was a member: it keeps the claim
        #expect(next.leaderEpoch == 4)
    }

    @Test("the last ISR member dying takes the partition offline and stays in the ISR; when it returns it leads again")
    func lastIsrMember() throws {
        var current = state([1, 2], leader: 1, isr: [1])
        let (offline, reason) = try #require(LeaderElection.reconcile(current, liveness: BrokerLiveness(live: [2])))
        #expect(offline.leader == PartitionState.noLeader && offline.isr == [1] && offline.leaderEpoch == 4)
        #expect(reason == .noEligibleLeader)
        current = offline
        #expect(LeaderElection.reconcile(current, liveness: BrokerLiveness(live: [2])) == nil)  // stable while it is away
        let (back, backReason) = try #require(LeaderElection.reconcile(current, liveness: BrokerLiveness(live: [1, 2])))
        #expect(back.leader == 1 && back.isr == [1] && back.leaderEpoch == 5)
        #expect(backReason == .offlinePartitionRecovered)
    }

    @Test("when every ISR member dies at once the ISR keeps the leader")
    func allIsrDieAtOnce() throws {
        let (next, _) = try #require(LeaderElection.reconcile(state([1, 2, 3], leader: 2, isr: [1, 2]),
                                                              liveness: BrokerLiveness(live: [3])))
        #expect(next.isr == [2] && next.leader == PartitionState.noLeader)
    }

    @Test("with unclean election enabled an offline partition takes a live replica as its only ISR member")
    func uncleanReconcile() throws {
        let (next, reason) = try #require(LeaderElection.reconcile(state([1, 2], leader: 1, isr: [1]),
                                                                   liveness: BrokerLiveness(live: [2]), allowUnclean: true))
        #expect(next.leader == 2 && next.isr == [2] && next.leaderEpoch == 4)
        #expect(reason == .uncleanElection)
    }

    @Test("a broker in controlled shutdown loses leadership and leaves the ISR only while others remain")
    func controlledShutdown() throws {
        let liveness = BrokerLiveness(live: [1, 2, 3], shuttingDown: [1])
        let (moved, reason) = try #require(LeaderElection.reconcile(state([1, 2, 3], leader: 1), liveness: liveness))
        #expect(moved.leader == 2 && moved.isr == [2, 3] && moved.leaderEpoch == 4)
        #expect(reason == .controlledShutdown)
        // Sole member: same as dead for leadership, but it stays in the ISR.
        let (alone, aloneReason) = try #require(LeaderElection.reconcile(state([1, 2], leader: 1, isr: [1]), liveness: liveness))
        #expect(alone.leader == PartitionState.noLeader && alone.isr == [1])
        #expect(aloneReason == .noEligibleLeader)
        // A follower shutting down just leaves the ISR.
        let (follower, followerReason) = try #require(LeaderElection.reconcile(state([2, 1], leader: 2), liveness: liveness))
        #expect(follower.leader == 2 && follower.isr == [2] && follower.leaderEpoch == 3)
        #expect(followerReason == .controlledShutdown)
        // Two members shutting down: one stays.
        let both = BrokerLiveness(live: [1, 2], shuttingDown: [1, 2])
        let (last, _) = try #require(LeaderElection.reconcile(state([1, 2], leader: 1), liveness: both))
        #expect(last.isr.count == 1 && last.leader == PartitionState.noLeader)
    }

    @Test("a healthy partition needs nothing")
    func healthy() {
        #expect(LeaderElection.reconcile(state([1, 2, 3], leader: 2), liveness: BrokerLiveness(live: [1, 2, 3])) == nil)
        #expect(LeaderElection.reconcile(state([1, 2], leader: PartitionState.noLeader, isr: [1]),
                                         liveness: BrokerLiveness(live: [2])) == nil)
    }

    @Test("preferred election: the first replica leads if live and in the ISR; otherwise Kafka's errors")
    func preferred() throws {
        let live = BrokerLiveness(live: [1, 2, 3])
        let (next, reason) = try LeaderElection.elect(.preferred, state([1, 2, 3], leader: 2), liveness: live).get()
        #expect(next.leader == 1 && next.leaderEpoch == 4 && next.isr == [1, 2, 3] && reason == .preferredLeader)
        #expect(throws: ElectionFailure.electionNotNeeded) {
            try LeaderElection.elect(.preferred, state([1, 2], leader: 1), liveness: live).get()
        }
        #expect(throws: ElectionFailure.preferredLeaderNotAvailable(preferred: 1)) {
            try LeaderElection.elect(.preferred, state([1, 2], leader: 2, isr: [2]), liveness: live).get()
        }
        #expect(throws: ElectionFailure.preferredLeaderNotAvailable(preferred: 1)) {
            try LeaderElection.elect(.preferred, state([1, 2], leader: 2), liveness: BrokerLiveness(live: [1, 2], shuttingDown: [1])).get()
        }
        #expect(ElectionFailure.preferredLeaderNotAvailable(preferred: 1).errorCode.rawValue == 80)
        #expect(ElectionFailure.electionNotNeeded.errorCode.rawValue == 84)
    }

    @Test("unclean election: only for a partition without a leader; an ISR member first, else any live replica")
    func unclean() throws {
        #expect(throws: ElectionFailure.electionNotNeeded) {
            try LeaderElection.elect(.unclean, state([1, 2], leader: 1), liveness: BrokerLiveness(live: [1, 2])).get()
        }
        let offline = state([1, 2, 3], leader: PartitionState.noLeader, isr: [1])
        let (dirty, reason) = try LeaderElection.elect(.unclean, offline, liveness: BrokerLiveness(live: [2, 3])).get()
        #expect(dirty.leader == 2 && dirty.isr == [2] && dirty.leaderEpoch == 4 && reason == .uncleanElection)
        let (clean, cleanReason) = try LeaderElection.elect(.unclean, offline, liveness: BrokerLiveness(live: [1, 3])).get()
        #expect(clean.leader == 1 && clean.isr == [1] && cleanReason == .offlinePartitionRecovered)
        #expect(throws: ElectionFailure.eligibleLeadersNotAvailable) {
            try LeaderElection.elect(.unclean, offline, liveness: BrokerLiveness(live: [])).get()
        }
        #expect(ElectionFailure.eligibleLeadersNotAvailable.errorCode.rawValue == 83)
    }

    func image(_ partitions: [PartitionState], brokers: [Int32], shuttingDown: Set<Int32> = []) -> MetadataImage {
        var image = MetadataImage(clusterId: "c")
        for id in brokers {
            image.brokers[id] = BrokerRegistration(nodeId: id, listeners: [], inControlledShutdown: shuttingDown.contains(id))
        }
        let topic = TopicMetadata(name: "t", topicId: KafkaUUID.random(), partitionCount: Int32(partitions.count), replicationFactor: 2)
        image.setTopic(TopicImage(metadata: topic, partitions: partitions))
        return image
    }

    @Test("image-wide reconcile lists every partition to change, in order")
    func reconcileImage() {
        let cluster = image([state([1, 2], leader: 1), state([2, 1], leader: 2), state([1, 2], leader: 2)], brokers: [2])
        let changes = LeaderElection.reconcile(image: cluster)
        #expect(changes.map(\.partition.partition) == [0, 1, 2])
        #expect(changes.map(\.changesLeader) == [true, false, false])
        #expect(changes.allSatisfy { $0.to.isr == [2] })
    }

    @Test("client topics' new leaders come before internal topics', and leader changes before ISR-only ones")
    func reconcileOrder() {
        var cluster = MetadataImage(clusterId: "c")
        cluster.brokers[2] = BrokerRegistration(nodeId: 2, listeners: [])
        for (name, isInternal) in [("__consumer_offsets", true), ("a", false)] {
            let topic = TopicMetadata(name: name, topicId: KafkaUUID.random(), partitionCount: 2, replicationFactor: 2,
                                      isInternal: isInternal)
            // Partition 0: broker 1 (dead) leads; partition 1: broker 1 only follows.
            cluster.setTopic(TopicImage(metadata: topic, partitions: [state([1, 2], leader: 1), state([2, 1], leader: 2)]))
        }
        let order = LeaderElection.reconcile(image: cluster).map { "\($0.partition.topic)-\($0.partition.partition)" }
        #expect(order == ["a-0", "__consumer_offsets-0", "__consumer_offsets-1", "a-1"])
    }

    @Test("the imbalance check moves a broker's preferred partitions only above the percentage")
    func imbalance() {
        // Broker 1 is preferred for 4 partitions and leads 3: 25% imbalance.
        var partitions = [state([1, 2], leader: 1), state([1, 2], leader: 1), state([1, 2], leader: 1), state([1, 2], leader: 2)]
        partitions.append(state([2, 1], leader: 2))
        let cluster = image(partitions, brokers: [1, 2])
        #expect(LeaderElection.imbalancedPartitions(image: cluster, imbalancePercentage: 10) == [TopicPartition(topic: "t", partition: 3)])
        #expect(LeaderElection.imbalancedPartitions(image: cluster, imbalancePercentage: 25).isEmpty)
        // A preferred broker shutting down is never a target.
        #expect(LeaderElection.imbalancedPartitions(image: image(partitions, brokers: [1, 2], shuttingDown: [1]),
                                                    imbalancePercentage: 10).isEmpty)
    }

    @Test("movable leaderships: led partitions with another ISR member that may lead")
    func movable() {
        let cluster = image([state([1, 2], leader: 1), state([1, 2], leader: 1, isr: [1]), state([2, 1], leader: 2),
                             state([1, 3], leader: 1)], brokers: [1, 2])
        #expect(LeaderElection.movableLeaderships(of: 1, in: cluster) == [TopicPartition(topic: "t", partition: 0)])
    }
}
