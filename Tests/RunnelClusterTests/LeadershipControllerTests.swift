// LeadershipController against a real etcd, with three brokers' stores each running the controller
// loop (only the elected one acts): failover from the ISR, an offline partition and its return,
// controlled shutdown (of a follower and of the controller itself), on-demand elections.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import RunnelEtcd
import Testing

@Suite("LeadershipController against a real etcd", .serialized, .enabled(if: EtcdTestServer.runs, "needs etcd (apt-get install etcd-server)"))
struct LeadershipControllerTests {
    static let logger = Logger(label: "test.controller")

    /// One broker's store and its controller loop.
    final class Node: Sendable {
        let store: EtcdMetadataStore
        let loop: Task<Void, Never>

        init(store: EtcdMetadataStore, configuration: LeadershipController.Configuration) {
            self.store = store
            let controller = LeadershipController(store: store, configuration: configuration, logger: LeadershipControllerTests.logger)
            self.loop = Task { await controller.run() }
        }

        func stop() async {
            await store.shutdown()
            loop.cancel()
            await loop.value
        }
    }

    func start(_ server: EtcdTestServer, node: Int32,
               configuration: LeadershipController.Configuration = .init(autoLeaderRebalance: false)) async throws -> Node {
        let registration = BrokerRegistration(
            nodeId: node, listeners: [BrokerEndpoint(name: "PLAINTEXT", host: "127.0.0.1", port: 9000 + node)])
        // Room for a loaded machine (see EtcdMetadataStoreTests.open): brokers leave these tests by a
        // clean shutdown, which revokes the lease, so no test waits for it to expire.
        let client = EtcdClientConfiguration(endpoints: [server.endpoint], requestTimeout: .seconds(5))
        let store = try await EtcdMetadataStore.open(
            configuration: .init(client: client, prefix: "/runnel", leaseTTL: .seconds(6), registration: registration),
            logger: Self.logger)
        return Node(store: store, configuration: configuration)
    }

    func partition(_ index: Int32, of topic: String = "t") -> TopicPartition { TopicPartition(topic: topic, partition: index) }

    func createTopic(_ store: EtcdMetadataStore, _ name: String = "t", assignments: [[Int32]]) async throws {
        let topic = TopicMetadata(name: name, topicId: KafkaUUID.random(), partitionCount: Int32(assignments.count),
                                  replicationFactor: Int16(assignments[0].count))
        try await store.createTopic(topic, assignments: assignments)
    }

    func cluster(_ server: EtcdTestServer, configuration: LeadershipController.Configuration = .init(autoLeaderRebalance: false))
        async throws -> [Int32: Node] {
        var nodes: [Int32: Node] = [:]
        for id: Int32 in 1...3 { nodes[id] = try await start(server, node: id, configuration: configuration) }
        let stores = nodes.values.map(\.store)
        #expect(await eventually { stores.allSatisfy { $0.liveBrokers().count == 3 && $0.controller != nil } })
        return nodes
    }

    func controllerId(_ nodes: [Int32: Node]) throws -> Int32 {
        try #require(nodes.values.first { $0.store.isController }?.store.nodeId)
    }

    @Test("a broker that leaves: its partitions get the next ISR member as leader with leader epoch + 1, and it leaves every ISR")
    func failover() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        var nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let victim: Int32 = controller == 3 ? 2 : 3
        let observer = try #require(nodes[controller]).store
        try await createTopic(observer, assignments: [[1, 2, 3], [2, 3, 1], [3, 1, 2]])
        let before = try (Int32(0)..<3).map { try #require(observer.partitionState(partition($0))) }

        await nodes.removeValue(forKey: victim)?.stop()
        #expect(await eventually {
            (Int32(0)..<3).allSatisfy { index in
                guard let state = observer.partitionState(partition(index)) else { return false }
                return !state.isr.contains(victim) && state.leader != victim
            }
        })
        for index in 0..<3 {
            let old = before[index]
            let new = try #require(observer.partitionState(partition(Int32(index))))
            let expectedLeader = old.replicas.first { $0 != victim } ?? -1
            #expect(new.leader == (old.leader == victim ? expectedLeader : old.leader))
            #expect(new.leaderEpoch == old.leaderEpoch + (old.leader == victim ? 1 : 0))
            #expect(new.isr == old.isr.filter { $0 != victim })
            #expect(new.replicas == old.replicas)
        }
        for node in nodes.values { await node.stop() }
    }

    @Test("the last ISR member leaving takes the partition offline (leader -1, it stays in the ISR); when it returns it leads again")
    func offlineAndBack() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        var nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let victim: Int32 = controller == 3 ? 2 : 3
        let other: Int32 = [1, 2, 3].first { $0 != victim && $0 != controller } ?? 1
        let observer = try #require(nodes[controller]).store
        try await createTopic(observer, assignments: [[victim, other]])
        // The leader shrank the ISR to itself (as a lagging follower would make it).
        let shrunk = PartitionState(replicas: [victim, other], leader: victim, leaderEpoch: 0, isr: [victim], partitionEpoch: 0)
        _ = try await observer.alterPartition(partition(0), expectedPartitionEpoch: 0, to: shrunk, fencing: .none)

        await nodes.removeValue(forKey: victim)?.stop()
        #expect(await eventually { observer.partitionState(partition(0))?.leader == PartitionState.noLeader })
        let offline = try #require(observer.partitionState(partition(0)))
        #expect(offline.isr == [victim])
        #expect(offline.leaderEpoch == 1)

        nodes[victim] = try await start(server, node: victim)
        #expect(await eventually { observer.partitionState(partition(0))?.leader == victim })
        let back = try #require(observer.partitionState(partition(0)))
        #expect(back.leaderEpoch == 2 && back.isr == [victim])
        for node in nodes.values { await node.stop() }
    }

    @Test("controlled shutdown moves leadership to other ISR members before the broker unregisters, also when it is the controller")
    func controlledShutdown() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        var nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let follower: Int32 = controller == 3 ? 2 : 3
        let observer = try #require(nodes[controller]).store
        try await createTopic(observer, assignments: [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 3, 2], [2, 1, 3], [3, 2, 1]])

        for leaving in [follower, controller] {
            let node = try #require(nodes[leaving])
            // The leaving broker's image follows the store's writes through its watch: wait for it to see what it leads.
            #expect(await eventually { !LeaderElection.movableLeaderships(of: leaving, in: node.store.image).isEmpty })
            let led = LeaderElection.movableLeaderships(of: leaving, in: node.store.image)
            let result = await node.store.controlledShutdown(timeout: .seconds(10))
            #expect(result.completed, "remaining \(result.remaining), error \(String(describing: result.error))")
            // Still registered (and still the controller, for the second), but leading nothing.
            #expect(node.store.liveBrokers().contains { $0.nodeId == leaving && $0.inControlledShutdown })
            #expect(node.store.image.topics["t"]?.partitions.allSatisfy { $0.leader != leaving } == true)
            for index in led {
                let state = try #require(node.store.partitionState(index))
                #expect(state.leader >= 0 && state.isr.contains(state.leader))
            }
            if leaving == controller { #expect(node.store.isController) }
            await nodes.removeValue(forKey: leaving)?.stop()
        }
        // One broker is left: it leads every partition, and (controller now) keeps it that way.
        let last = try #require(nodes.values.first)
        #expect(await eventually {
            last.store.image.topics["t"]?.partitions.allSatisfy { $0.leader == last.store.nodeId && $0.isr == [last.store.nodeId] } == true
        })
        for node in nodes.values { await node.stop() }
    }

    @Test("on-demand elections: preferred moves leadership back to the first replica once it is in the ISR, with Kafka's errors before; a stale controller epoch is fenced")
    func onDemandElections() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        var nodes = try await cluster(server)
        let controller = try controllerId(nodes)
        let preferred: Int32 = controller == 3 ? 2 : 3
        let second: Int32 = [1, 2, 3].first { $0 != preferred && $0 != controller } ?? 1
        let store = try #require(nodes[controller]).store
        let epoch = try #require(store.controller?.epoch)
        try await createTopic(store, assignments: [[preferred, second]])
        let writer = PartitionStateWriter(store: store, logger: Self.logger)

        guard case .notElected(.electionNotNeeded) = await writer.elect(.preferred, partition(0), fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected ELECTION_NOT_NEEDED"); return
        }
        await nodes.removeValue(forKey: preferred)?.stop()
        #expect(await eventually { store.partitionState(partition(0))?.leader == second })
        guard case .notElected(.preferredLeaderNotAvailable) = await writer.elect(.preferred, partition(0), fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected PREFERRED_LEADER_NOT_AVAILABLE"); return
        }
        nodes[preferred] = try await start(server, node: preferred)
        #expect(await eventually { store.liveBrokers().count == 3 })
        // The leader expands the ISR when the returning follower catches up (the replication side's job).
        let current = try #require(store.partitionState(partition(0)))
        var expanded = current
        expanded.isr = [second, preferred]
        _ = try await store.alterPartition(partition(0), expectedPartitionEpoch: current.partitionEpoch, to: expanded, fencing: .none)
        guard case .changed(let elected, .preferredLeader) = await writer.elect(.preferred, partition(0), fencing: .controllerEpoch(epoch)) else {
            Issue.record("expected a preferred election"); return
        }
        #expect(elected.leader == preferred && elected.leaderEpoch == current.leaderEpoch + 1)

        // A write on behalf of a stale controller epoch is fenced.
        let fenced = await writer.write(partition(0), fencing: .controllerEpoch(epoch - 1)) { _, state, _ in
            var next = state
            next.isr = [state.leader]
            return .success((next, .isrMemberUnavailable))
        }
        guard case .failed(.fenced) = fenced else { Issue.record("expected fenced, got \(fenced)"); return }
        for node in nodes.values { await node.stop() }
    }

    @Test("the automatic rebalance gives leadership back to preferred replicas")
    func autoRebalance() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let configuration = LeadershipController.Configuration(autoLeaderRebalance: true, imbalanceCheckInterval: .milliseconds(300),
                                                               reconcileInterval: .milliseconds(100))
        let nodes = try await cluster(server, configuration: configuration)
        let store = try #require(nodes.values.first).store
        try await createTopic(store, assignments: [[1, 2], [2, 3], [3, 1]])
        // Leadership moved away from every preferred replica (as after a failover).
        for index: Int32 in 0..<3 {
            let state = try #require(store.partitionState(partition(index)))
            var moved = state
            moved.leader = state.replicas[1]
            moved.leaderEpoch += 1
            _ = try await store.alterPartition(partition(index), expectedPartitionEpoch: state.partitionEpoch, to: moved, fencing: .none)
        }
        #expect(await eventually {
            store.image.topics["t"]?.partitions.allSatisfy { $0.leader == $0.replicas[0] && $0.leaderEpoch == 2 } == true
        })
        for node in nodes.values { await node.stop() }
    }
}
