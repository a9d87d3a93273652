// EtcdMetadataStore against a real etcd: topic writes seen by another broker, compare-and-swap on
// partition state, registration, controller election and re-election, lease loss, watches across an
// etcd restart, prefix isolation, producer id blocks.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import RunnelEtcd
import Synchronization
import Testing

@Suite("EtcdMetadataStore against a real etcd", .serialized, .enabled(if: EtcdTestServer.runs, "needs etcd (apt-get install etcd-server)"))
struct EtcdMetadataStoreTests {
    static let logger = Logger(label: "test.etcd-store")

    /// A store on `server`. The defaults leave room for a loaded machine (the suite runs beside ~500
    /// other tests and etcd fsyncs on a slow disk): a 6 s lease is lost only after 4.5 s without an
    /// acknowledged renewal, and a write may take 5 s. Tests of a lease's loss pass a shorter TTL.
    func open(_ server: EtcdTestServer, node: Int32, prefix: String = "/runnel", ttl: Duration = .seconds(6),
              rack: String? = nil, requestTimeout: Duration = .seconds(5)) async throws -> EtcdMetadataStore {
        let registration = BrokerRegistration(
            nodeId: node, listeners: [BrokerEndpoint(name: "PLAINTEXT", host: "127.0.0.1", port: 9000 + node)], rack: rack)
        let client = EtcdClientConfiguration(endpoints: [server.endpoint], requestTimeout: requestTimeout)
        return try await EtcdMetadataStore.open(
            configuration: .init(client: client, prefix: prefix, leaseTTL: ttl, registration: registration), logger: Self.logger)
    }

    func topic(_ name: String, partitions: Int32) -> TopicMetadata {
        TopicMetadata(name: name, topicId: KafkaUUID.random(), partitionCount: partitions, replicationFactor: 2)
    }

    @Test("topic create, configs, partition count and delete made by one broker are seen by another")
    func topicLifecycle() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1), b = try await open(server, node: 2)
        let orders = topic("orders", partitions: 3)
        try await a.createTopic(orders, assignments: [[1, 2], [2, 1], [1, 2]])
        #expect(a.topic(named: "orders") == orders)  // the writer reads its own write at once
        #expect(await eventually { b.topic(named: "orders") == orders })
        #expect(b.topic(id: orders.topicId)?.name == "orders")
        #expect(b.partitionState(TopicPartition(topic: "orders", partition: 1)) == .initial(replicas: [2, 1]))

        await #expect(throws: MetadataStoreError.self) { try await b.createTopic(self.topic("orders", partitions: 1), assignments: [[2]]) }
        try await a.setConfigs(topic: "orders", to: ["retention.ms": "1000"])
        try await b.setPartitionCount(topic: "orders", to: 5, newAssignments: [[2, 1], [1, 2]])
        #expect(await eventually { a.topic(named: "orders")?.partitionCount == 5 && b.topic(named: "orders")?.configs == ["retention.ms": "1000"] })
        #expect(a.topic(named: "orders")?.configs == ["retention.ms": "1000"])  // neither write lost the other
        #expect(a.partitionState(TopicPartition(topic: "orders", partition: 4))?.replicas == [1, 2])
        do {
            try await a.setPartitionCount(topic: "orders", to: 4, newAssignments: [])
            Issue.record("shrinking a topic succeeded")
        } catch {
            #expect(error.errorCode == .invalidPartitions)
        }

        let deleted = try await b.deleteTopic(named: "orders")
        #expect(deleted.topicId == orders.topicId)
        #expect(await eventually { a.topic(named: "orders") == nil && a.topic(id: orders.topicId) == nil })
        do {
            _ = try await a.deleteTopic(named: "orders")
            Issue.record("deleting a deleted topic succeeded")
        } catch {
            #expect(error.errorCode == .unknownTopicOrPartition)
        }
        await a.shutdown()
        await b.shutdown()
    }

    @Test("alterPartition is a compare-and-swap: of two writers expecting one epoch, exactly one wins")
    func alterPartitionConflict() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1), b = try await open(server, node: 2)
        try await a.createTopic(topic("t", partitions: 1), assignments: [[1, 2]])
        #expect(await eventually { b.topic(named: "t") != nil })
        let partition = TopicPartition(topic: "t", partition: 0)
        let shrink = PartitionState(replicas: [1, 2], leader: 1, leaderEpoch: 0, isr: [1], partitionEpoch: 0)
        let failover = PartitionState(replicas: [1, 2], leader: 2, leaderEpoch: 1, isr: [2], partitionEpoch: 0)
        async let first = attempt { () async throws(MetadataStoreError) in
            try await a.alterPartition(partition, expectedPartitionEpoch: 0, to: shrink, fencing: .brokerEpoch)
        }
        async let second = attempt { () async throws(MetadataStoreError) in
            try await b.alterPartition(partition, expectedPartitionEpoch: 0, to: failover, fencing: .none)
        }
        let outcomes = await [first, second]
        let winners = outcomes.compactMap { try? $0.get() }
        #expect(winners.count == 1)
        let winner = try #require(winners.first)
        #expect(winner.partitionEpoch == 1)
        for case .failure(let error) in outcomes {
            guard case .stalePartitionEpoch(let p, let expected, let current) = error else {
                Issue.record("expected a stale epoch, got \(error)")
                continue
            }
            #expect(p == partition && expected == 0 && current == 1)
            #expect(error.errorCode == ErrorCode.invalidUpdateVersion)
        }
        #expect(await eventually { a.partitionState(partition) == winner && b.partitionState(partition) == winner })

        // Fencing: a write on behalf of a controller epoch that is not the current one is refused.
        do {
            _ = try await a.alterPartition(partition, expectedPartitionEpoch: 1, to: shrink, fencing: .controllerEpoch(1))
            Issue.record("a write fenced on a stale controller epoch succeeded")
        } catch {
            guard case .fenced = error else { Issue.record("expected fenced, got \(error)"); return }
        }
        let epoch = try #require(a.controller?.epoch)
        let next = try await a.alterPartition(partition, expectedPartitionEpoch: 1, to: shrink, fencing: .controllerEpoch(epoch))
        #expect(next.partitionEpoch == 2)
        await a.shutdown()
        await b.shutdown()
    }

    @Test("two brokers register and see each other; a broker that shuts down disappears from the other's view")
    func registration() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1, rack: "r1")
        let updates = a.updates()
        let b = try await open(server, node: 2, rack: "r2")
        #expect(await eventually { a.liveBrokers().map(\.nodeId) == [1, 2] && b.liveBrokers().map(\.nodeId) == [1, 2] })
        let seen = try #require(a.liveBrokers().last)
        #expect(seen.rack == "r2" && seen.port == 9002 && seen.host == "127.0.0.1")
        #expect(seen.brokerEpoch > 0)
        guard case .registered(let epoch) = b.registration else { Issue.record("b not registered"); return }
        #expect(epoch == seen.brokerEpoch)
        // The same node id cannot register twice while the first registration lives.
        await #expect(throws: MetadataStoreError.self) {
            let registration = BrokerRegistration(nodeId: 2, listeners: [])
            _ = try await EtcdMetadataStore.open(configuration: .init(
                client: EtcdClientConfiguration(endpoints: [server.endpoint], requestTimeout: .seconds(1)),
                leaseTTL: .seconds(2), registration: registration, registrationTimeout: .milliseconds(800)), logger: Self.logger)
        }
        await b.shutdown()
        #expect(await eventually { a.liveBrokers().map(\.nodeId) == [1] })
        var sawRegistered = false, sawUnregistered = false
        for await update in updates {
            for change in update.changes {
                if case .brokerRegistered(let broker) = change, broker.nodeId == 2 { sawRegistered = true }
                if case .brokerUnregistered(2) = change { sawUnregistered = sawRegistered }
            }
            if sawUnregistered { break }
        }
        #expect(sawUnregistered)
        await a.shutdown()
    }

    @Test("one controller is elected; when its lease is revoked another broker takes over with a higher epoch")
    func reelectionAfterRevoke() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1), b = try await open(server, node: 2)
        #expect(await eventually { a.controller != nil && a.controller == b.controller })
        #expect(a.isController != b.isController)
        let (old, other) = a.isController ? (a, b) : (b, a)
        let first = try #require(old.controller)
        #expect(first.nodeId == old.nodeId)
        let lease = try #require(old.currentLease?.lease.id)
        let admin = EtcdClient(configuration: EtcdClientConfiguration(endpoints: [server.endpoint]))
        try await admin.revokeLease(lease)
        #expect(await eventually { other.isController })
        #expect(!old.isController)
        let second = try #require(other.controller)
        #expect(second.nodeId == other.nodeId && second.epoch > first.epoch)
        // The old controller notices, and registers again with a new broker epoch (as a non-controller).
        #expect(await eventually { if case .registered(let epoch) = old.registration { epoch > first.epoch } else { false } })
        #expect(await eventually { old.liveBrokers().count == 2 })
        #expect(!old.isController)
        await a.shutdown()
        await b.shutdown()
    }

    @Test("a controller that stops renewing reports its lease lost before etcd can expire it; the other takes over only after it stepped down")
    func reelectionAfterRenewalsStop() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1, ttl: .seconds(2)), b = try await open(server, node: 2, ttl: .seconds(2))
        #expect(await eventually { a.isController || b.isController })
        let (old, other) = a.isController ? (a, b) : (b, a)
        let keeper = try #require(old.currentLease)
        keeper.stopRenewing()
        let overlap = Mutex(false)
        #expect(await eventually {
            if other.isController && old.isController { overlap.withLock { $0 = true } }
            return !old.registration.isRegistered
        })
        let lostAt = ContinuousClock.now
        // Read once the loss is seen: a renewal in flight at stopRenewing() may still have been
        // acknowledged after it, moving the lease's expiry (on etcd's side too) later.
        let earliestExpiry = keeper.earliestExpiry
        #expect(lostAt < earliestExpiry, "lost reported \(lostAt - earliestExpiry) after the earliest expiry")
        #expect(!old.isController)
        #expect(await eventually {
            if other.isController && old.isController { overlap.withLock { $0 = true } }
            return other.isController
        })
        let overlapped = overlap.withLock { $0 }
        #expect(!overlapped)
        await a.shutdown()
        await b.shutdown()
    }

    @Test("with etcd hung, the lease is reported lost before its TTL ends; registration comes back when etcd does")
    func lostSignalWhileEtcdHangs() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let store = try await open(server, node: 1, ttl: .seconds(3))
        guard case .registered(let firstEpoch) = store.registration else { Issue.record("not registered"); return }
        let keeper = try #require(store.currentLease)
        let updates = store.updates()
        server.pause()
        #expect(await eventually { !store.registration.isRegistered })
        let lostAt = ContinuousClock.now
        // Read after the loss: an answer etcd sent just before it stopped may have been taken after.
        #expect(lostAt < keeper.earliestExpiry)
        #expect(!store.isController)
        server.resume()
        #expect(await eventually(timeout: .seconds(20)) {
            if case .registered(let epoch) = store.registration { epoch > firstEpoch } else { false }
        })
        var states: [RegistrationState] = []
        for await update in updates {
            for case .registrationChanged(let state) in update.changes { states.append(state) }
            if states.last?.isRegistered == true { break }
        }
        #expect(states.count == 2)
        if case .lost = states.first {} else { Issue.record("first registration change was \(String(describing: states.first))") }
        #expect(await eventually { store.isController })
        await store.shutdown()
    }

    @Test("updates survive etcd being killed and restarted: every change once, in revision order")
    func updatesAcrossEtcdRestart() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1, ttl: .seconds(5)), b = try await open(server, node: 2, ttl: .seconds(5))
        let stream = b.updates()
        let collected = Task {
            var topics: [(String, String)] = [], revisions: [Int64] = []
            for await update in stream {
                revisions.append(update.revision)
                for change in update.changes {
                    switch change {
                    case .topicCreated(let t): topics.append(("created", t.metadata.name))
                    case .topicDeleted(let t): topics.append(("deleted", t.name))
                    default: break
                    }
                }
                if topics.count == 4 { break }
            }
            return (topics, revisions)
        }
        try await a.createTopic(topic("t1", partitions: 1), assignments: [[1]])
        try await server.restart()
        try await writeRetrying { try await a.createTopic(self.topic("t2", partitions: 1), assignments: [[1]]) }
        try await writeRetrying { try await a.createTopic(self.topic("t3", partitions: 1), assignments: [[2]]) }
        try await writeRetrying { _ = try await a.deleteTopic(named: "t1") }
        #expect(await eventually { b.topic(named: "t3") != nil && b.topic(named: "t1") == nil })
        let (topics, revisions) = await collected.value
        #expect(topics.map { "\($0.0) \($0.1)" } == ["created t1", "created t2", "created t3", "deleted t1"])
        let topicRevisions = revisions.filter { _ in true }
        #expect(topicRevisions == topicRevisions.sorted())
        await a.shutdown()
        await b.shutdown()
    }

    @Test("two clusters under different prefixes of one etcd never see each other")
    func prefixIsolation() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let one = try await open(server, node: 1, prefix: "/iso")
        let two = try await open(server, node: 1, prefix: "/iso2/")
        #expect(one.clusterId != two.clusterId)
        try await one.createTopic(topic("only-in-one", partitions: 1), assignments: [[1]])
        try await two.createTopic(topic("only-in-two", partitions: 1), assignments: [[1]])
        #expect(await eventually { one.isController && two.isController })
        #expect(one.topics().map(\.name) == ["only-in-one"])
        #expect(two.topics().map(\.name) == ["only-in-two"])
        #expect(one.liveBrokers().count == 1 && two.liveBrokers().count == 1)
        let keys = try await EtcdClient(configuration: EtcdClientConfiguration(endpoints: [server.endpoint])).range(.prefix("/iso2/"))
        #expect(keys.keyValues.allSatisfy { $0.key.hasPrefix("/iso2/") } && keys.keyValues.contains { $0.key == "/iso2/topics/only-in-two" })
        await one.shutdown()
        await two.shutdown()
    }

    @Test("producer id blocks handed to concurrent brokers never overlap")
    func producerIdBlocks() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let a = try await open(server, node: 1), b = try await open(server, node: 2)
        async let fromA = [try a.allocateProducerIdBlock(), try a.allocateProducerIdBlock(), try a.allocateProducerIdBlock()]
        async let fromB = [try b.allocateProducerIdBlock(), try b.allocateProducerIdBlock(), try b.allocateProducerIdBlock()]
        let blocks = try await (fromA + fromB).sorted { $0.firstProducerId < $1.firstProducerId }
        #expect(blocks.count == 6)
        for (lower, upper) in zip(blocks, blocks.dropFirst()) { #expect(lower.end <= upper.firstProducerId) }
        #expect(blocks.allSatisfy { $0.size == 1000 })
        await a.shutdown()
        await b.shutdown()
    }

    func attempt(_ body: () async throws(MetadataStoreError) -> PartitionState) async -> Result<PartitionState, MetadataStoreError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// A write right after etcd restarts may find it still electing itself leader: retry for a bounded time.
    func writeRetrying(_ write: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try await write()
                return
            } catch let error as MetadataStoreError {
                guard case .unavailable = error, ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
