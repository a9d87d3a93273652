// ReplicaFetcher: a follower's side of replication (Kafka's ReplicaFetcherThread). One fetch loop per
// leader broker, over one connection made with the project's own client: first, for partitions that
// just started following, OffsetForLeaderEpoch and truncation of a diverged tail (KIP-101/KIP-279);
// then Fetch with this broker's replica id from the log end offset, appending what arrives with the
// leader's offsets and epochs. A fetch offset at or above the leader's high watermark is the durable
// log end (the log completes an append once fsynced), so a follower never reports what it could lose
// where the report counts (the leader's high watermark and ISR expansion both need offsets ≥ the high
// watermark). Below the high watermark — catching up — the next fetch goes out as soon as an answer
// arrives, from the offset after its last batch, while the answer is validated, appended and synced: the
// leader's send, the follower's append and the fsyncs overlap (the group commit joins the fsyncs). At
// the tail, against a Runnel leader that says it reads `ReplicationTags.durableEndOffset`, the next fetch
// also goes out once the batches are handed to the log, carrying the durable end beside the fetch position
// and not parking at the leader while some append is still syncing (decision 0028). The leader's high
// watermark and log start offset are mirrored after each response.
import Foundation
import KafkaProtocol
import Logging
import Metrics
import NIOCore
import RunnelClient
import RunnelStorage
import Synchronization

/// Settings of the fetch loops.
struct ReplicaFetchSettings: Sendable {
    var maxWaitMs: Int32 = 500
    var maxBytesPerPartition: Int32 = 1 << 20
    var maxBytes: Int32 = 10 << 20
    var backoff: Duration = .milliseconds(1000)
    /// `num.replica.fetchers`: fetch loops (each with its own connection) per leader broker; a leader's
    /// partitions are spread over them. A loop waits for every partition of an answer to be durable
    /// before it fetches again, so partitions on separate loops do not wait for each other.
    var fetchersPerLeader: Int = 1
    /// Requests that take longer fail (the leader may be paused or partitioned away).
    var requestTimeout: TimeAmount = .seconds(10)
    /// `follower.replication.throttled.rate` at start: bytes/s over the partitions this broker fetches
    /// throttled (ThrottledReplicas.swift); `Int64.max` = unthrottled. Dynamic broker configs change it.
    var followerThrottledRate: Int64 = .max
    /// The listener and security of connections to leaders (`inter.broker.listener.name`).
    var link = InterBrokerLink()
}

/// The fetch loops of this broker: `num.replica.fetchers` per leader it follows.
final class ReplicaFetcherManager: Sendable {
    /// One loop: the leader it fetches from and its slot among that leader's loops.
    struct LoopKey: Hashable, Sendable {
        var leader: Int32
        var slot: Int
    }
    private let fetchers = Mutex<[LoopKey: ReplicaFetcher]>([:])
    private let nodeId: Int32
    private let settings: ReplicaFetchSettings
    private let address: @Sendable (Int32) -> BrokerAddress?
    private let logger: Logger
    /// `follower.replication.throttled.rate`, shared by every loop: the rate is per broker, as Kafka's
    /// (changed by dynamic broker configs).
    let throttle: ReplicationThrottle
    /// `runnel_replica_fetch_partitions`: the partitions this broker's fetch loops follow.
    private let followedGauge = Gauge(label: "runnel_replica_fetch_partitions")

    /// `address` finds a leader's address from the metadata image.
    init(nodeId: Int32, settings: ReplicaFetchSettings, address: @escaping @Sendable (Int32) -> BrokerAddress?,
         logger: Logger) {
        self.nodeId = nodeId
        self.settings = settings
        self.address = address
        self.logger = logger
        self.throttle = ReplicationThrottle(rate: settings.followerThrottledRate)
    }

    /// The partitions followed, over every loop.
    var followedPartitions: Int { fetchers.withLock { all in all.values.reduce(0) { $0 + $1.partitionCount } } }

    private func reportFollowed() { followedGauge.record(followedPartitions) }

    /// Follows `partition` from `leader` at `epoch` (truncating a diverged tail first); stops fetching it
    /// from any other leader. A partition already fetched from `leader` stays on its loop; a new one goes
    /// to the leader's loop with the fewest partitions (the lowest slot on a tie).
    func follow(_ partition: Partition, leader: Int32, epoch: Int32) {
        let key = TopicPartition(topic: partition.topic, partition: partition.index)
        let slots = max(settings.fetchersPerLeader, 1)
        let fetcher = fetchers.withLock { all -> ReplicaFetcher in
            var current: LoopKey?
            for (loop, other) in all {
                if loop.leader == leader, other.contains(key) {
                    current = loop
                } else {
                    other.remove(key)
                }
            }
            let chosen = current ?? ReplicaFetcherManager.slot(for: leader, slots: slots) { all[$0]?.partitionCount ?? 0 }
            if let existing = all[chosen] { return existing }
            let created = ReplicaFetcher(leader: leader, slot: chosen.slot, nodeId: nodeId, settings: settings,
                                         address: address, throttle: throttle, logger: logger,
                                         dropped: { [weak self] in self?.reportFollowed() })
            all[chosen] = created
            return created
        }
        fetcher.add(partition, epoch: epoch)
        reportFollowed()
    }

    /// The loop of `leader` with the fewest partitions (`load` counts them), the lowest slot on a tie.
    static func slot(for leader: Int32, slots: Int, load: (LoopKey) -> Int) -> LoopKey {
        var best = LoopKey(leader: leader, slot: 0)
        var bestLoad = load(best)
        for slot in 1..<max(slots, 1) {
            let candidate = LoopKey(leader: leader, slot: slot)
            let count = load(candidate)
            if count < bestLoad {
                best = candidate
                bestLoad = count
            }
        }
        return best
    }

    /// Stops fetching `partition` (it leads now, or is no longer assigned here).
    func stopFollowing(_ partition: Partition) {
        let key = TopicPartition(topic: partition.topic, partition: partition.index)
        for fetcher in fetchers.withLock({ Array($0.values) }) { fetcher.remove(key) }
        reportFollowed()
    }

    /// Stops every loop and closes their connections.
    func shutdown() async {
        let all = fetchers.withLock { f -> [ReplicaFetcher] in
            defer { f.removeAll() }
            return Array(f.values)
        }
        for fetcher in all { await fetcher.stop() }
    }
}

/// One leader's fetch loop.
final class ReplicaFetcher: Sendable {
    private struct Followed {
        var partition: Partition
        var epoch: Int32
        var needsTruncation = true
        var retryAt: ContinuousClock.Instant?
        /// The last answer brought batches that ended below the leader's high watermark.
        var catchingUp = false
    }
    private struct State {
        var partitions: [TopicPartition: Followed] = [:]
        var task: Task<Void, Never>?
        /// A loop runs (set before its task exists, so two adds never start two loops).
        var running = false
        var stopped = false
    }

    let leader: Int32
    /// This loop's slot among the leader's `num.replica.fetchers` loops.
    let slot: Int
    /// Told when the loop drops a partition by itself (its log went offline), so that the manager's
    /// `runnel_replica_fetch_partitions` follows.
    private let dropped: @Sendable () -> Void
    private let nodeId: Int32
    private let settings: ReplicaFetchSettings
    private let address: @Sendable (Int32) -> BrokerAddress?
    private let logger: Logger
    private let throttle: ReplicationThrottle
    private let state = Mutex(State())
    private let connection = Mutex<BrokerConnection?>(nil)
    /// Told whenever one of this loop's appends completes (a completed append is durable).
    private let appendsCompleted = AppendCompletions()
    /// `runnel_replica_fetch_ahead_total`: answers appended without waiting for their fsync because the
    /// leader reads the durable end sent beside the next fetch (decision 0028).
    private let fetchedAhead = Counter(label: "runnel_replica_fetch_ahead_total")
    /// What the loop is waiting for and since when: a watchdog names a loop stuck in one step.
    private let step = Mutex<(name: String, since: ContinuousClock.Instant, reported: Bool)>(("starting", .now, false))

    init(leader: Int32, slot: Int = 0, nodeId: Int32, settings: ReplicaFetchSettings,
         address: @escaping @Sendable (Int32) -> BrokerAddress?, throttle: ReplicationThrottle, logger: Logger,
         dropped: @escaping @Sendable () -> Void = {}) {
        self.leader = leader
        self.dropped = dropped
        self.slot = slot
        self.nodeId = nodeId
        self.settings = settings
        self.address = address
        self.throttle = throttle
        var logger = logger
        logger[metadataKey: "leader"] = "\(leader)"
        if slot > 0 { logger[metadataKey: "fetcher"] = "\(slot)" }
        self.logger = logger
    }

    func add(_ partition: Partition, epoch: Int32) {
        let key = TopicPartition(topic: partition.topic, partition: partition.index)
        let start = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            if let known = s.partitions[key], known.epoch == epoch, known.partition === partition { return false }
            s.partitions[key] = Followed(partition: partition, epoch: epoch)
            guard !s.running else { return false }
            s.running = true
            return true
        }
        if start {
            let task = Task { [self] in await run() }
            state.withLock { $0.task = task }
        }
    }

    func remove(_ key: TopicPartition) {
        _ = state.withLock { $0.partitions.removeValue(forKey: key) }
    }

    func contains(_ key: TopicPartition) -> Bool { state.withLock { $0.partitions[key] != nil } }

    /// The partitions this loop fetches.
    var partitionCount: Int { state.withLock { $0.partitions.count } }

    func stop() async {
        let task = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            s.partitions.removeAll()
            return s.task
        }
        task?.cancel()
        await task?.value
        await connection.withLock({ $0 })?.close()
    }

    // MARK: The loop

    private func run() async {
        // A catch-up fetch sent ahead (see `fetch`); dropped whenever the loop does anything else.
        var ahead: Prefetch?
        var tail = TailPipelining()
        let watchdog = Task { [self] in await watch() }
        defer {
            ahead?.response.cancel()
            watchdog.cancel()
        }
        while !Task.isCancelled {
            enter("planning")
            let now = ContinuousClock.now
            let (work, nextRetry) = state.withLock { s -> ([TopicPartition: Followed], ContinuousClock.Instant?) in
                if s.partitions.isEmpty {
                    s.task = nil
                    s.running = false
                    return ([:], nil)
                }
                let ready = s.partitions.filter { $0.value.retryAt.map { $0 <= now } ?? true }
                let next = s.partitions.values.compactMap(\.retryAt).min()
                return (ready, next)
            }
            if work.isEmpty {
                ahead?.response.cancel()
                ahead = nil
                guard let nextRetry else { return }  // nothing followed: the loop ends (add() restarts it)
                try? await Task.sleep(until: nextRetry, clock: .continuous)  // backoff after errors
                continue
            }
            do {
                let conn = try await connect()
                let truncating = work.filter { $0.value.needsTruncation }
                if !truncating.isEmpty {
                    enter("truncating")
                    ahead?.response.cancel()
                    ahead = nil
                    try await truncate(truncating, over: conn)
                    continue
                }
                let sent = ahead
                ahead = nil
                ahead = try await fetch(work, over: conn, ahead: sent, tail: &tail)
            } catch is CancellationError where Task.isCancelled {
                return
            } catch {
                ahead?.response.cancel()
                ahead = nil
                logger.warning("replica fetch failed; retrying", metadata: ["error": "\(error)"])
                await dropConnection()
                backOff(Array(work.keys), for: settings.backoff)
            }
        }
    }

    /// Marks the step the loop enters (for the watchdog).
    private func enter(_ name: String) {
        step.withLock { $0 = (name, .now, false) }
    }

    /// Logs once per stall when the loop has been in one step for over 15 s with partitions to follow (a
    /// fetch waits at most its timeout; appends complete in milliseconds): the step is the place to look.
    private func watch() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            let stalled = step.withLock { s -> (String, Duration)? in
                let age = ContinuousClock.now - s.since
                guard !s.reported, age > .seconds(15) else { return nil }
                s.reported = true
                return (s.name, age)
            }
            guard let (name, age) = stalled, partitionCount > 0 else { continue }
            logger.warning("replica fetch loop stalled", metadata: [
                "step": "\(name)", "for": "\(age)"])
        }
    }

    private func connect() async throws -> BrokerConnection {
        enter("connecting")
        if let open = connection.withLock({ $0 }), open.isActive { return open }
        guard let address = address(leader) else {
            throw KafkaClientError.connectionFailed(address: "broker \(leader)", reason: "not registered in the cluster")
        }
        var configuration = ConnectionConfiguration()
        configuration.clientId = "runnel-replica-\(nodeId)"
        configuration.connectTimeout = .seconds(3)
        configuration.requestTimeout = settings.requestTimeout
        settings.link.apply(&configuration)
        let opened = try await BrokerConnection.connect(to: address, configuration: configuration)
        connection.withLock { $0 = opened }
        logger.info("follower connected to leader", metadata: ["address": "\(address)"])
        return opened
    }

    private func dropConnection() async {
        let open = connection.withLock { c -> BrokerConnection? in
            defer { c = nil }
            return c
        }
        await open?.close()
    }

    private func backOff(_ keys: [TopicPartition], for delay: Duration) {
        let at = ContinuousClock.now + delay
        state.withLock { s in
            for key in keys { s.partitions[key]?.retryAt = at }
        }
    }

    /// Marks `key` (still followed at `epoch`) with `update`.
    private func update(_ key: TopicPartition, epoch: Int32, _ body: (inout Followed) -> Void) {
        state.withLock { s in
            guard var followed = s.partitions[key], followed.epoch == epoch else { return }
            body(&followed)
            s.partitions[key] = followed
        }
    }

    // MARK: Truncation

    /// KIP-279: ask the leader where our latest epoch ends in its log, and cut our log there (never
    /// below... what the leader has of that epoch: min of both ends).
    private func truncate(_ work: [TopicPartition: Followed], over conn: BrokerConnection) async throws {
        var request = OffsetForLeaderEpochRequest()
        request.replicaId = nodeId
        var asked: [TopicPartition: Followed] = [:]
        var byTopic: [String: [OffsetForLeaderEpochRequest.OffsetForLeaderPartition]] = [:]
        for (key, followed) in work {
            guard let latest = followed.partition.log.latestLeaderEpoch else {
                // An empty log (or one without epochs) has nothing to cut.
                update(key, epoch: followed.epoch) { $0.needsTruncation = false }
                continue
            }
            var p = OffsetForLeaderEpochRequest.OffsetForLeaderPartition()
            p.partition = key.partition
            p.currentLeaderEpoch = followed.epoch
            p.leaderEpoch = latest
            byTopic[key.topic, default: []].append(p)
            asked[key] = followed
        }
        guard !asked.isEmpty else { return }
        request.topics = byTopic.map { topic, partitions in
            var t = OffsetForLeaderEpochRequest.OffsetForLeaderTopic()
            t.topic = topic
            t.partitions = partitions
            return t
        }
        let response = try await conn.send(request, version: conn.apiVersions.negotiatedVersion(for: .offsetForLeaderEpoch, atMost: 4))
        // A partition the leader left out of its answer is asked again after a pause, not at once.
        let answered = Set(response.topics.flatMap { topic in
            topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0.partition) }
        })
        backOff(asked.keys.filter { !answered.contains($0) }, for: .milliseconds(100))
        for topic in response.topics {
            for answer in topic.partitions {
                let key = TopicPartition(topic: topic.topic, partition: answer.partition)
                guard let followed = asked[key] else { continue }
                let code = ErrorCode(rawValue: answer.errorCode)
                guard code == .none else {
                    logger.debug("OffsetForLeaderEpoch refused; retrying", metadata: ["partition": "\(key)", "error": "\(code.name)"])
                    backOff([key], for: .milliseconds(100))
                    continue
                }
                await truncate(followed, key: key, leaderEpoch: answer.leaderEpoch, endOffset: answer.endOffset)
            }
        }
    }

    /// Cuts the follower's log where it diverges from the leader's: the leader's end offset of
    /// `leaderEpoch` (the largest epoch at or below ours it knows), or less when our own log has less of
    /// that epoch; with no such epoch at the leader, back to our high watermark.
    private func truncate(_ followed: Followed, key: TopicPartition, leaderEpoch: Int32, endOffset: Int64) async {
        let log = followed.partition.log
        let target: Int64
        if leaderEpoch < 0 || endOffset < 0 {
            target = log.highWatermark
        } else {
            let ours = log.endOffset(forLeaderEpoch: leaderEpoch)
            target = ours.leaderEpoch == leaderEpoch ? min(endOffset, ours.endOffset) : endOffset
        }
        do {
            // The appended end: batches still syncing (a catch-up append not awaited) count too, and
            // the truncation waits for them before it cuts.
            if target < log.appendedEndOffset {
                logger.warning("truncating a diverged follower log", metadata: [
                    "partition": "\(key)", "from": "\(log.appendedEndOffset)", "to": "\(target)", "leader_epoch": "\(leaderEpoch)"])
                try await log.truncateAfterWrites(to: target)
            }
            update(key, epoch: followed.epoch) { $0.needsTruncation = false }
        } catch {
            logger.error("truncation failed", metadata: ["partition": "\(key)", "error": "\(error)"])
            backOff([key], for: settings.backoff)
        }
    }

    // MARK: Fetch

    /// A fetch sent before the previous answer's batches were appended: from the offsets after them, by
    /// the same partitions at the same epochs.
    private struct Prefetch: Sendable {
        var offsets: [TopicPartition: Int64]
        var epochs: [TopicPartition: Int32]
        var response: Task<FetchResponse, any Error>

        /// Whether it asked for exactly `work`, from where the partitions' logs end now (the appends before
        /// it succeeded); otherwise its answer is dropped and the loop fetches afresh.
        func matches(_ work: [TopicPartition: Followed]) -> Bool {
            guard work.count == offsets.count else { return false }
            for (key, followed) in work {
                guard epochs[key] == followed.epoch, offsets[key] == followed.partition.log.appendedEndOffset else { return false }
            }
            return true
        }
    }

    /// Whether this loop may fetch ahead of its fsyncs at the tail: its leader said, over the connection
    /// in use, that it reads the durable end offset (an older leader takes the fetch offset as durable).
    private struct TailPipelining {
        var confirmedOn: ObjectIdentifier?
        /// For some partition the leader had appended more than the last answer brought: the next fetch
        /// goes out before that answer is durable.
        var leaderHadMore = false
        /// The offsets the last fetches asked from, oldest first: everything below the oldest must be
        /// durable before the next fetch leaves, so at most `depth` answers are ever syncing behind the
        /// fetch position (a follower whose disk stalls stops fetching and leaves the ISR, as before
        /// fetching ahead).
        var sent: [[TopicPartition: Int64]] = []
        static let depth = 4

        func enabled(on conn: BrokerConnection) -> Bool { confirmedOn == ObjectIdentifier(conn) }
    }

    private func fetch(_ ready: [TopicPartition: Followed], over conn: BrokerConnection, ahead: Prefetch?,
                       tail: inout TailPipelining) async throws -> Prefetch? {
        // Up to v12: topics by name, the replica id in the request body.
        guard let version = conn.apiVersions.negotiatedVersion(for: .fetch, atMost: 12), version >= 4 else {
            throw KafkaClientError.unsupportedApi(address: conn.address.description, api: "Fetch v4-12")
        }
        let pipelined = tail.enabled(on: conn)
        // follower.replication.throttled.rate: the partitions the topics' follower.replication.throttled.replicas
        // name on this broker, while it is out of their ISR, share the rate; while it is used up they wait
        // (the others are fetched as usual).
        var work = ready
        var throttled: Set<TopicPartition> = []
        var throttledMaxBytes = settings.maxBytesPerPartition
        if throttle.isLimited {
            throttled = Set(ready.filter { key, followed in
                ReplicationThrottleRule.followerThrottles(followed.partition.currentSettings.followerThrottledReplicas,
                                                          partition: key.partition, follower: nodeId,
                                                          isr: followed.partition.leadershipSnapshot.isr)
            }.keys)
            if !throttled.isEmpty {
                let available = throttle.available()
                if available <= 0 {
                    // At most a second: a rate raised meanwhile (a dynamic broker config) applies soon.
                    backOff(Array(throttled), for: min(throttle.delayUntilAvailable(), .seconds(1)))
                    for key in throttled { work.removeValue(forKey: key) }
                    throttled = []
                    if work.isEmpty {
                        ahead?.response.cancel()
                        return nil
                    }
                } else {
                    let share = max(available / Int64(throttled.count), 1)
                    throttledMaxBytes = Int32(clamping: min(Int64(settings.maxBytesPerPartition), share))
                }
            }
        }
        let timeout = settings.requestTimeout + .milliseconds(Int64(settings.maxWaitMs))
        let response: FetchResponse
        let requested: [TopicPartition: Int64]
        if let ahead, throttled.isEmpty, ahead.matches(work) {
            requested = ahead.offsets
            enter("fetching (sent ahead)")
            response = try await ahead.response.value
        } else {
            ahead?.response.cancel()
            // Fetching ahead of the fsyncs: once an answer brings all the leader had, what was appended is
            // made durable before the next fetch, which may then park at the leader (its offsets then move
            // the high watermark as soon as it arrives, as without pipelining).
            // Bounded: the fetch reports each log's durable end whatever happens, so a completion that never
            // comes (a log closed under its write) delays the fetch by a second instead of stopping the loop.
            if pipelined, !tail.leaderHadMore, Self.hasUnsynced(work) {
                enter("waiting for replicated appends to be durable")
                let followed = work
                if !(await appendsCompleted.wait(until: { !Self.hasUnsynced(followed) }, atMost: .seconds(1))) {
                    let unsynced = followed.filter { Self.isUnsynced($0.value) }
                    logger.warning("replicated appends not durable after 1 s; fetching with their durable ends",
                                   metadata: ["partitions": "\(unsynced.keys.sorted { "\($0)" < "\($1)" })"])
                }
            }
            // Ahead by `depth` answers at most: what was appended before the fetch `depth` back left is durable
            // first. Not met within 5 s, the loop plans again (a partition may have left it) and comes back.
            if pipelined, tail.sent.count >= TailPipelining.depth, let sent = tail.sent.first {
                let followed = work
                let behind: @Sendable () -> Bool = {
                    followed.contains { key, f in
                        f.partition.log.logEndOffset < min(sent[key] ?? 0, f.partition.log.appendedEndOffset)
                    }
                }
                if behind() {
                    enter("waiting for the previous answer to be durable")
                    guard await appendsCompleted.wait(until: { !behind() }, atMost: .seconds(5)) else { return nil }
                }
            }
            var offsets: [TopicPartition: Int64] = [:]
            var epochs: [TopicPartition: Int32] = [:]
            for (key, followed) in work {
                // The appended end: durable unless it is below the leader's high watermark (see `append`).
                offsets[key] = followed.partition.log.appendedEndOffset
                epochs[key] = followed.partition.log.latestLeaderEpoch ?? -1
            }
            requested = offsets
            let catchingUp = Set(work.filter { $0.value.catchingUp && !throttled.contains($0.key) }.keys)
            let request = fetchRequest(work, offsets: offsets, lastFetchedEpochs: epochs, catchingUp: catchingUp,
                                       throttled: throttled, throttledMaxBytes: throttledMaxBytes,
                                       version: version, pipelined: pipelined)
            enter("fetching")
            if pipelined {
                tail.sent.append(offsets)
                if tail.sent.count > TailPipelining.depth { tail.sent.removeFirst() }
            } else {
                tail.sent = []
            }
            response = try await conn.send(request, version: version, timeout: timeout)
        }
        if response.errorCode != 0 {
            throw KafkaClientError.broker(code: ErrorCode(rawValue: response.errorCode), context: "replica fetch", message: nil)
        }
        tail.confirmedOn = ReplicationTags.honoursDurableEndOffset(response.unknownTaggedFields) ? ObjectIdentifier(conn) : nil
        // Only while the leader has more than it sent: otherwise (a trickle, or a producer waiting for this
        // very answer's acknowledgement) fetching ahead would add a fetch per answer, each one read over
        // every partition this loop follows, and gain nothing.
        tail.leaderHadMore = Self.leaderHasMore(response)
        let appendAhead = pipelined && tail.enabled(on: conn) && tail.leaderHadMore
        if appendAhead { fetchedAhead.increment() }
        // Catching up: when a partition's answer ends below the leader's high watermark (and the others got
        // nothing), the next fetch goes out now, from after each answer's last batch, and travels while
        // these batches are validated and appended (both ends' work overlaps instead of alternating). Its offsets are below the high
        // watermark, so the leader takes them for what they are: neither the high watermark nor the ISR
        // can move on them (the rule `append` relies on). If an append fails, the answer is dropped.
        var next: Prefetch?
        if throttled.isEmpty, let (offsets, epochs) = Self.catchUpOffsets(response, work: work, requested: requested) {
            let catchingUp = Set(offsets.filter { $0.value != requested[$0.key] }.keys)
            let request = fetchRequest(work, offsets: offsets, lastFetchedEpochs: epochs, catchingUp: catchingUp,
                                       throttled: [], throttledMaxBytes: 0, version: version, pipelined: appendAhead)
            next = Prefetch(offsets: offsets, epochs: work.mapValues(\.epoch),
                            response: Task { try await conn.send(request, version: version, timeout: timeout) })
        }
        enter("appending")
        await withTaskGroup(of: Void.self) { group in
            for topic in response.responses {
                for answer in topic.partitions {
                    let key = TopicPartition(topic: topic.topic, partition: answer.partitionIndex)
                    guard let followed = work[key] else { continue }
                    if throttled.contains(key) { throttle.record(answer.records?.readableBytes ?? 0) }
                    let offset = requested[key] ?? -1
                    group.addTask { [self] in
                        await handle(answer, for: key, followed: followed, fetchOffset: offset, appendAhead: appendAhead)
                    }
                }
            }
        }
        return next
    }

    /// The bytes a catching-up partition asks for: `replica.fetch.max.bytes`, or more while few partitions
    /// catch up — an even share of half of `replica.fetch.response.max.bytes` (the other half left to the
    /// rest). One partition catching up asks for 5 MiB at the defaults; five or more, for 1 MiB each as
    /// before. Larger answers amortize each fetch's round trip and per-request work (decision 0022: a
    /// 1 GiB catch-up measured about 20 % faster at 20 % less CPU with 4 MiB than with 1 MiB).
    static func catchUpPartitionBytes(perPartition: Int32, responseMax: Int32, catchingUp: Int) -> Int32 {
        guard catchingUp > 0 else { return perPartition }
        return max(perPartition, Int32(clamping: Int64(responseMax) / Int64(2 * catchingUp)))
    }

    /// Whether for some partition the leader had appended beyond the last whole batch of its answer.
    static func leaderHasMore(_ response: FetchResponse) -> Bool {
        response.responses.contains { topic in
            topic.partitions.contains { answer in
                guard let records = answer.records, records.readableBytes > 0,
                      let leaderEnd = ReplicationTags.leaderAppendedEndOffset(in: answer.unknownTaggedFields),
                      let last = lastCompleteBatch(records) else { return false }
                return leaderEnd > last.nextOffset
            }
        }
    }

    /// Whether the partition has appends that are not durable yet.
    private static func isUnsynced(_ followed: Followed) -> Bool {
        followed.partition.log.logEndOffset < followed.partition.log.appendedEndOffset
    }

    /// Whether some partition of `work` has appends that are not durable yet.
    private static func hasUnsynced(_ work: [TopicPartition: Followed]) -> Bool {
        work.values.contains(where: isUnsynced)
    }

    private func fetchRequest(_ work: [TopicPartition: Followed], offsets: [TopicPartition: Int64],
                              lastFetchedEpochs: [TopicPartition: Int32], catchingUp: Set<TopicPartition>,
                              throttled: Set<TopicPartition>, throttledMaxBytes: Int32,
                              version: Int16, pipelined: Bool) -> FetchRequest {
        let catchUpBytes = Self.catchUpPartitionBytes(perPartition: settings.maxBytesPerPartition,
                                                      responseMax: settings.maxBytes, catchingUp: catchingUp.count)
        var request = FetchRequest()
        request.replicaId = nodeId
        // Appends still syncing: this fetch must not park at the leader, which learns of their durability
        // only from the next fetch.
        request.maxWaitMs = pipelined && Self.hasUnsynced(work) ? 0 : settings.maxWaitMs
        request.minBytes = 1
        request.maxBytes = settings.maxBytes
        request.isolationLevel = 0
        request.sessionId = 0
        request.sessionEpoch = -1
        var byTopic: [String: [FetchRequest.FetchPartition]] = [:]
        for (key, followed) in work {
            var p = FetchRequest.FetchPartition()
            p.partition = key.partition
            p.currentLeaderEpoch = followed.epoch
            p.fetchOffset = offsets[key] ?? followed.partition.log.appendedEndOffset
            p.lastFetchedEpoch = lastFetchedEpochs[key] ?? -1
            p.logStartOffset = followed.partition.log.logStartOffset
            p.partitionMaxBytes = throttled.contains(key) ? throttledMaxBytes
                : catchingUp.contains(key) ? catchUpBytes : settings.maxBytesPerPartition
            // Flexible versions: the durable end beside the position (a Kafka leader skips the tag).
            if version >= 12 {
                p.unknownTaggedFields = [ReplicationTags.durableEndOffsetField(followed.partition.log.logEndOffset)]
            }
            byTopic[key.topic, default: []].append(p)
        }
        request.topics = byTopic.map { topic, partitions in
            var t = FetchRequest.FetchTopic()
            t.topic = topic
            t.partitions = partitions
            return t
        }
        return request
    }

    /// Where the next fetch of each partition starts once this answer's batches are appended, and the
    /// epoch it last fetched — only when some partition of `work` is catching up (whole batches onto the
    /// end its log has now, ending below the leader's high watermark) and every other one got nothing
    /// (it asks from the same offset again: a partition at the high watermark appends durably, so that is
    /// its durable end); nil otherwise (an error, a divergence, an answer reaching the high watermark).
    private static func catchUpOffsets(_ response: FetchResponse, work: [TopicPartition: Followed],
                                       requested: [TopicPartition: Int64]) -> (offsets: [TopicPartition: Int64], epochs: [TopicPartition: Int32])? {
        var offsets: [TopicPartition: Int64] = [:]
        var epochs: [TopicPartition: Int32] = [:]
        var catchingUp = false
        for topic in response.responses {
            for answer in topic.partitions {
                let key = TopicPartition(topic: topic.topic, partition: answer.partitionIndex)
                guard let followed = work[key], let from = requested[key] else { continue }
                let log = followed.partition.log
                guard answer.errorCode == 0, answer.divergingEpoch.epoch < 0, answer.divergingEpoch.endOffset < 0,
                      log.appendedEndOffset == from else { return nil }
                if let records = answer.records, records.readableBytes > 0 {
                    guard let last = lastCompleteBatch(records), last.nextOffset > from,
                          last.nextOffset < answer.highWatermark else { return nil }
                    offsets[key] = last.nextOffset
                    epochs[key] = last.leaderEpoch
                    catchingUp = true
                } else {
                    offsets[key] = from
                    epochs[key] = log.latestLeaderEpoch ?? -1
                }
            }
        }
        return catchingUp && offsets.count == work.count ? (offsets, epochs) : nil
    }

    /// The offset after the last whole batch of fetched records, and that batch's leader epoch.
    static func lastCompleteBatch(_ records: ByteBuffer) -> (nextOffset: Int64, leaderEpoch: Int32)? {
        var position = records.readerIndex
        let end = records.writerIndex
        var last: Int?
        // A batch: base offset (8 bytes), length (4, counting what follows it), leader epoch (4), magic (1),
        // CRC (4), attributes (2), last offset delta (4).
        while position + 27 <= end, let length = records.getInteger(at: position + 8, as: Int32.self), length > 0 {
            let next = position + 12 + Int(length)
            guard next <= end else { break }
            last = position
            position = next
        }
        guard let last, let base = records.getInteger(at: last, as: Int64.self),
              let epoch = records.getInteger(at: last + 12, as: Int32.self),
              let delta = records.getInteger(at: last + 23, as: Int32.self), delta >= 0 else { return nil }
        let (next, overflow) = base.addingReportingOverflow(Int64(delta) + 1)
        return overflow ? nil : (next, epoch)
    }

    private func handle(_ answer: FetchResponse.PartitionData, for key: TopicPartition, followed: Followed,
                        fetchOffset: Int64, appendAhead: Bool) async {
        let log = followed.partition.log
        let code = ErrorCode(rawValue: answer.errorCode)
        // Only while this partition still follows this leader at this epoch (a leader change may have
        // handed it to another loop that is truncating it now).
        let current = followed.partition.leadershipSnapshot
        guard current.role == .follower, current.leader == leader, current.leaderEpoch == followed.epoch else { return }
        switch code {
        case .none where answer.divergingEpoch.epoch >= 0 || answer.divergingEpoch.endOffset >= 0:
            await truncate(followed, key: key, leaderEpoch: answer.divergingEpoch.epoch, endOffset: answer.divergingEpoch.endOffset)
        case .none:
            if let fetched = answer.records, let records = Self.completeBatches(fetched) {
                // Only onto the end the fetch asked from: a catch-up append that failed after this fetch left
                // rolled the log back, and these batches would leave a gap (they are fetched again).
                guard log.appendedEndOffset == fetchOffset else {
                    backOff([key], for: .milliseconds(100))
                    return
                }
                do {
                    let batches = try ValidatedBatches.validate(records, origin: .replication, maxMessageBytes: Int.max)
                    try await append(batches, to: log, epoch: followed.epoch, key: key, leaderHighWatermark: answer.highWatermark,
                                     ahead: appendAhead)
                } catch {
                    appendFailed(key, log: log, error: error)
                    return
                }
            }
            let catchingUp = answer.records.map { $0.readableBytes > 0 } == true && log.appendedEndOffset < answer.highWatermark
            if catchingUp != followed.catchingUp { update(key, epoch: followed.epoch) { $0.catchingUp = catchingUp } }
            log.updateHighWatermark(answer.highWatermark)
            if answer.logStartOffset > log.logStartOffset {
                _ = try? log.deleteRecords(before: min(answer.logStartOffset, log.logEndOffset))
            }
        case .offsetOutOfRange:
            if log.logEndOffset < answer.logStartOffset {
                do {
                    logger.warning("follower behind the leader's log start: restarting the log there", metadata: [
                        "partition": "\(key)", "log_start_offset": "\(answer.logStartOffset)"])
                    try await log.truncateFullyAfterWrites(startingAt: answer.logStartOffset)
                } catch {
                    logger.error("could not restart the log", metadata: ["partition": "\(key)", "error": "\(error)"])
                    backOff([key], for: settings.backoff)
                }
            } else {
                update(key, epoch: followed.epoch) { $0.needsTruncation = true }
            }
        case .notLeaderOrFollower, .fencedLeaderEpoch, .unknownLeaderEpoch, .unknownTopicOrPartition, .unknownTopicId:
            // The metadata has not reached one of us yet; it will move this partition when it does.
            backOff([key], for: .milliseconds(100))
        default:
            logger.warning("replica fetch error", metadata: ["partition": "\(key)", "error": "\(code.name)"])
            backOff([key], for: settings.backoff)
        }
    }

    /// The whole batches at the front of a fetched partition's records: a leader cuts its answer at the
    /// byte limit, so the last batch may be partial (it is fetched again next time). Nil when not even
    /// one batch is complete.
    static func completeBatches(_ records: ByteBuffer) -> ByteBuffer? {
        let start = records.readerIndex
        var position = start
        let end = records.writerIndex
        // A batch: base offset (8 bytes), then its length (4 bytes) counting everything after the length.
        while position + 12 <= end, let length = records.getInteger(at: position + 8, as: Int32.self), length > 0 {
            let next = position + 12 + Int(length)
            guard next <= end else { break }
            position = next
        }
        guard position > start else { return nil }
        return records.getSlice(at: start, length: position - start)
    }

    /// Appends fetched batches. Returns once they are durable — or as soon as they are handed to the log
    /// when `ahead` (the leader reads the durable end offset sent beside the next fetch's position), or
    /// when the log's appended end stays below `leaderHighWatermark`: the next fetch then reports a
    /// non-durable offset, which is safe below the high watermark (it can neither move the high watermark
    /// nor bring this replica into the ISR). A failure of such a write is handled when it completes.
    /// Not ahead of the disk by more than `maxUnwrittenBytes`: past it, the append's write is waited for
    /// (not its fsync), so a follower whose network outruns its disk holds a bounded amount of appended
    /// data in memory.
    private func append(_ batches: ValidatedBatches, to log: PartitionLog, epoch: Int32, key: TopicPartition,
                        leaderHighWatermark: Int64, ahead: Bool) async throws {
        let resumed = Atomic<Bool>(false)
        // Set once the append is queued and known to be allowed ahead of its fsync (decided on the appended
        // end after it, below).
        let mayGoOnWhenWritten = Atomic<Bool>(false)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let written: @Sendable () -> Void = {
                if mayGoOnWhenWritten.load(ordering: .acquiring), !resumed.exchange(true, ordering: .acquiringAndReleasing) {
                    continuation.resume()
                }
            }
            log.append(batches, leaderEpoch: epoch, origin: .replication, written: written) { [self] result in
                defer { appendsCompleted.notify() }
                if resumed.exchange(true, ordering: .acquiringAndReleasing) {
                    if case .failure(let error) = result { appendFailed(key, log: log, error: error) }
                } else {
                    continuation.resume(with: result.map { _ in () }.mapError { $0 as any Error })
                }
            }
            guard ahead || log.appendedEndOffset < leaderHighWatermark else { return }
            mayGoOnWhenWritten.store(true, ordering: .releasing)
            // Within the bound (or already written: a partition's writes reach the file in order, so then
            // nothing of it is unwritten), go on now; else its `written` call does.
            if log.unwrittenBytes <= Self.maxUnwrittenBytes, !resumed.exchange(true, ordering: .acquiringAndReleasing) {
                continuation.resume()
            }
        }
    }

    /// How far a partition's appends may run ahead of their writes reaching the file. A follower catching
    /// up on a disk slower than its network otherwise queued every answer it fetched: 46 answers of ~5 MiB
    /// (245 MiB of aligned buffers) in flight at once on session 24's VM, each buffer faulted in fresh.
    /// A few answers' worth keeps the disk's queue full.
    static let maxUnwrittenBytes: Int64 = 32 << 20

    /// A failed append of replicated batches: a partition whose log went offline stops following its
    /// leader; any other failure is retried after the backoff, from the log's end.
    private func appendFailed(_ key: TopicPartition, log: PartitionLog, error: any Error) {
        if let reason = log.offlineReason {
            // A full or failed disk: nothing more can be appended here, so stop fetching it (the leader
            // drops this replica from the ISR); it is fetched again once the partition is followed anew
            // (a restart, a new leader epoch).
            logger.error("partition offline on this broker: it stops following its leader", metadata: [
                "partition": "\(key)", "reason": "\(reason)"])
            remove(key)
            dropped()
            return
        }
        logger.error("could not append replicated batches", metadata: [
            "partition": "\(key)", "offset": "\(log.logEndOffset)", "error": "\(error)"])
        backOff([key], for: settings.backoff)
    }
}


/// Wakes a fetch loop waiting for its appends to be durable whenever one of them completes; the loop
/// re-checks its logs (no count that a lost completion could leave unbalanced) and waits a bounded time.
final class AppendCompletions: Sendable {
    private struct State {
        var nextId: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = Mutex(State())

    /// Resumes every waiter (each re-checks its condition).
    func notify() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns true once `condition` holds (checked now and after each `notify`), false after `atMost`.
    func wait(until condition: @Sendable () -> Bool, atMost: Duration) async -> Bool {
        let deadline = ContinuousClock.now + atMost
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            let id = state.withLock { s -> UInt64 in
                s.nextId += 1
                return s.nextId
            }
            let timer = Task { [self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                resume(id)
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                state.withLock { $0.waiters[id] = continuation }
                // Registered before the checks: a completion or the timer from here on resumes it; one that
                // came before shows in the condition or the clock.
                if condition() || ContinuousClock.now >= deadline { resume(id) }
            }
            timer.cancel()
        }
        return true
    }

    private func resume(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}
