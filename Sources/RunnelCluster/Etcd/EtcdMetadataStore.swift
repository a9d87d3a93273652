// EtcdMetadataStore: cluster metadata in etcd — a cache kept current by one watch over the cluster's
// prefix, this broker's registration under a lease, the controller election, and compare-and-swap
// writes (the registration and election are in +Session, the writes in +Writes).
import Foundation
import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import RunnelEtcd
import Synchronization

/// The metadata store of a cluster broker (`metadata.store = etcd`).
///
/// `open` reads (or creates) the cluster id, loads every key under the prefix, starts the watch that
/// keeps `image` current (in revision order, resuming after disconnects, reloading after compaction),
/// registers this broker under a lease, campaigns for the controller key, and returns once registered.
public final class EtcdMetadataStore: MetadataStore {
    /// How the store reaches etcd and how this broker registers.
    public struct Configuration: Sendable {
        /// The etcd endpoints and timeouts.
        public var client: EtcdClientConfiguration
        /// `etcd.prefix`: the cluster's key prefix.
        public var prefix: String
        /// `etcd.lease.ttl.ms`: the registration's lease TTL (whole seconds in etcd, at least etcd's minimum).
        public var leaseTTL: Duration
        /// What this broker publishes (node id, listeners, rack).
        public var registration: BrokerRegistration
        /// Whether this broker campaigns for the controller key.
        public var controllerEligible: Bool
        /// Producer ids per allocated block (Kafka's is 1000).
        public var producerIdBlockSize: Int64
        /// How long `open` waits for the registration (a previous registration of this node id must expire first).
        public var registrationTimeout: Duration

        /// Creates a configuration.
        public init(client: EtcdClientConfiguration, prefix: String = "/runnel", leaseTTL: Duration = .seconds(10),
                    registration: BrokerRegistration, controllerEligible: Bool = true, producerIdBlockSize: Int64 = 1000,
                    registrationTimeout: Duration? = nil) {
            self.client = client
            self.prefix = prefix
            self.leaseTTL = leaseTTL
            self.registration = registration
            self.controllerEligible = controllerEligible
            self.producerIdBlockSize = producerIdBlockSize
            self.registrationTimeout = registrationTimeout ?? leaseTTL * 2 + .seconds(5)
        }
    }

    public let nodeId: Int32
    /// Where each record lives.
    public let layout: EtcdKeyLayout
    let configuration: Configuration
    let client: EtcdClient
    let logger: Logger
    let broadcaster = MetadataUpdateBroadcaster()
    let state: Mutex<StoreState>

    /// What a waiter waits for.
    enum WaitCondition {
        /// The cache has applied this revision.
        case revision(Int64)
        /// Anything changed after this generation (an applied batch, a registration or lease change).
        case changeAfter(UInt64)
    }

    struct StoreState {
        var cache: EtcdMetadataCache
        var registration: RegistrationState = .unregistered
        var keeper: EtcdLeaseKeeper?
        var generation: UInt64 = 0
        var waiters: [Int: (condition: WaitCondition, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiterId = 0
        var closed = false
        var tasks: [Task<Void, Never>] = []
        /// Why the last registration attempt did not succeed (for `open`'s error).
        var registrationProblem: String?
        /// Set by `requestControlledShutdown`: every later registration carries the mark.
        var controlledShutdown = false

        func satisfies(_ condition: WaitCondition) -> Bool {
            switch condition {
            case .revision(let revision): cache.image.revision >= revision
            case .changeAfter(let generation): self.generation > generation
            }
        }

        /// Marks a change and wakes the waiters it satisfies.
        mutating func bump() {
            generation &+= 1
            for (id, waiter) in waiters where closed || satisfies(waiter.condition) {
                waiters.removeValue(forKey: id)
                waiter.continuation.resume()
            }
        }
    }

    private init(configuration: Configuration, client: EtcdClient, logger: Logger) {
        self.configuration = configuration
        self.nodeId = configuration.registration.nodeId
        self.layout = EtcdKeyLayout(prefix: configuration.prefix)
        self.client = client
        self.logger = logger
        self.state = Mutex(StoreState(cache: EtcdMetadataCache(layout: EtcdKeyLayout(prefix: configuration.prefix))))
    }

    /// Connects, loads, starts watching, registers and campaigns; returns once this broker is registered.
    /// - Throws: `.unavailable` when etcd cannot be reached, `.registrationFailed` when this node id stays
    ///   registered by another live broker for `registrationTimeout`.
    public static func open(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            logger: Logger) async throws(MetadataStoreError) -> EtcdMetadataStore {
        let client = EtcdClient(configuration: configuration.client, group: group, logger: logger)
        let store = EtcdMetadataStore(configuration: configuration, client: client, logger: logger)
        do {
            try await store.start()
        } catch {
            await store.shutdown()
            throw error
        }
        return store
    }

    private func start() async throws(MetadataStoreError) {
        let clusterId = try await ensureClusterId()
        let loaded: EtcdRangeResult
        do { loaded = try await client.range(.prefix(layout.root)) } catch { throw .unavailable(error) }
        state.withLock { state in
            state.cache.load(loaded.keyValues, revision: loaded.revision, logger: logger)
            state.bump()
        }
        logger.info("cluster metadata loaded from etcd", metadata: [
            "cluster_id": "\(clusterId)", "prefix": "\(layout.prefix)", "revision": "\(loaded.revision)",
            "topics": "\(image.topics.count)", "brokers": "\(image.brokers.count)"])
        let sync = Task { [weak self] () -> Void in await self?.runSync(from: loaded.revision + 1) }
        let session = Task { [weak self] () -> Void in await self?.runSession() }
        state.withLock { $0.tasks = [sync, session] }

        let deadline = ContinuousClock.now + configuration.registrationTimeout
        while true {
            let (registered, generation, problem) = state.withLock { ($0.registration.isRegistered, $0.generation, $0.registrationProblem) }
            if registered { return }
            guard ContinuousClock.now < deadline else {
                throw .registrationFailed(problem ?? "not registered within \(configuration.registrationTimeout)")
            }
            await wait(for: .changeAfter(generation), timeout: .milliseconds(250))
        }
    }

    /// Reads the cluster id, creating it (random, Kafka's format) on a new cluster.
    private func ensureClusterId() async throws(MetadataStoreError) -> String {
        let fresh = EtcdClusterIdRecord(clusterId: KafkaUUID.random().description)
        let txn = EtcdTransaction(compare: [.absent(layout.clusterId)],
                                  success: [.put(key: layout.clusterId, value: EtcdRecordCoding.encode(fresh))],
                                  failure: [.range(.key(layout.clusterId))])
        let result: EtcdTransactionResult
        do { result = try await client.transaction(txn) } catch { throw .unavailable(error) }
        if result.succeeded {
            logger.info("created cluster", metadata: ["cluster_id": "\(fresh.clusterId)", "prefix": "\(layout.prefix)"])
            return fresh.clusterId
        }
        guard let stored = result.rangedKeyValues.first else { throw .corruptRecord(key: layout.clusterId, reason: "missing") }
        do throws(RecordError) {
            return try EtcdRecordCoding.decode(EtcdClusterIdRecord.self, from: stored.value).clusterId
        } catch {
            throw .corruptRecord(key: layout.clusterId, reason: error.description)
        }
    }

    // MARK: Reads

    public var image: MetadataImage { state.withLock { $0.cache.image } }

    public var registration: RegistrationState {
        state.withLock { state in
            // The keeper's deadline can pass before its task runs: report the loss from the deadline on.
            if case .registered = state.registration, let keeper = state.keeper, !keeper.isAlive {
                return .lost(reason: keeper.lostReason ?? "lease loss deadline passed")
            }
            return state.registration
        }
    }

    public var isController: Bool {
        state.withLock { state in
            guard case .registered = state.registration, let keeper = state.keeper, state.cache.image.controller != nil,
                  state.cache.controllerLease == keeper.lease.id else { return false }
            return keeper.isAlive
        }
    }

    /// The lease keeper of the current session (tests inject faults through it).
    public var currentLease: EtcdLeaseKeeper? { state.withLock { $0.keeper } }

    public func updates() -> AsyncStream<MetadataUpdate> { broadcaster.subscribe() }

    // MARK: Lifecycle

    /// Revokes the lease (unregistering and resigning at once), stops the watch, ends the update streams.
    public func shutdown() async {
        let (tasks, keeper) = state.withLock { state -> ([Task<Void, Never>], EtcdLeaseKeeper?) in
            state.closed = true
            state.registration = .shutDown
            state.bump()
            return (state.tasks, state.keeper)
        }
        for task in tasks { task.cancel() }
        await keeper?.revoke()
        for task in tasks { await task.value }
        client.shutdown()
        broadcaster.finish()
    }

    // MARK: Watch

    private func runSync(from revision: Int64) async {
        var start = revision
        while !Task.isCancelled {
            do {
                try await client.watch(.prefix(layout.root), fromRevision: start) { [weak self] batch in self?.apply(batch) }
                return
            } catch {
                logger.warning("metadata watch lost its history; reloading everything", metadata: ["error": "\(error)"])
                while !Task.isCancelled {
                    do {
                        let loaded = try await client.range(.prefix(layout.root))
                        reload(loaded)
                        start = loaded.revision + 1
                        break
                    } catch {
                        logger.warning("metadata reload failed; retrying", metadata: ["error": "\(error)"])
                        do { try await Task.sleep(for: .milliseconds(500)) } catch { return }
                    }
                }
            }
        }
    }

    /// Applies a watch batch revision by revision, publishing each revision's changes in order.
    private func apply(_ batch: EtcdWatchBatch) {
        var groups: [(revision: Int64, events: [EtcdEvent])] = []
        for event in batch.events {
            if groups.last?.revision == event.keyValue.modRevision {
                groups[groups.count - 1].events.append(event)
            } else {
                groups.append((event.keyValue.modRevision, [event]))
            }
        }
        state.withLock { state in
            for group in groups {
                let changes = state.cache.apply(group.events, revision: group.revision, logger: logger)
                if !changes.isEmpty {
                    broadcaster.publish(MetadataUpdate(revision: group.revision, changes: changes, image: state.cache.image))
                }
            }
            state.bump()
        }
    }

    private func reload(_ loaded: EtcdRangeResult) {
        state.withLock { state in
            state.cache.load(loaded.keyValues, revision: loaded.revision, logger: logger)
            broadcaster.publish(MetadataUpdate(revision: loaded.revision, changes: [.reloaded], image: state.cache.image))
            state.bump()
        }
    }

    // MARK: Waiting

    /// Suspends until `condition` holds, the store closes, or `timeout` passes.
    func wait(for condition: WaitCondition, timeout: Duration) async {
        let id = state.withLock { state -> Int in
            state.nextWaiterId += 1
            return state.nextWaiterId
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.closed || state.satisfies(condition) { return true }
                state.waiters[id] = (condition, continuation)
                return false
            }
            if ready {
                continuation.resume()
                return
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.state.withLock { state in state.waiters.removeValue(forKey: id)?.continuation.resume() }
            }
        }
    }

    /// Waits until the cache shows `revision` (a write's), so the writer reads its own write.
    func waitUntilApplied(_ revision: Int64) async {
        await wait(for: .revision(revision), timeout: configuration.client.requestTimeout)
        if state.withLock({ $0.cache.image.revision < revision }) {
            logger.warning("metadata watch is behind a completed write", metadata: ["revision": "\(revision)"])
        }
    }
}
