// Fetch: resolve the partitions (directly or through an incremental fetch session), read file slices
// from the logs, long-poll until min.bytes or max.wait.ms, and answer with zero-copy file regions.
import KafkaProtocol
import NIOCore
import NIOPosix
import RunnelCluster
import RunnelStorage

/// One partition's part of a fetch answer before encoding.
struct FetchedPartition: Sendable {
    var key: FetchPartitionKey
    var topicId: KafkaUUID
    var errorCode: ErrorCode = .none
    var highWatermark: Int64 = -1
    var lastStableOffset: Int64 = -1
    var logStartOffset: Int64 = -1
    var abortedTransactions: [AbortedTransactionRange]? = nil
    var records: PartitionRecords = .empty
    /// KIP-320 (Fetch v12+, followers): the follower's log diverged from this leader's after this
    /// epoch's end offset; it truncates there before fetching again.
    var divergingEpoch: (epoch: Int32, endOffset: Int64)? = nil
    /// To a Runnel follower: the leader's appended end offset when the records were read (decision 0028).
    var leaderAppendedEndOffset: Int64? = nil
    var bytes: Int { records.byteCount }
}

/// What a fetch resolved to before reading: the partitions in order and the session bookkeeping.
struct FetchPlan: Sendable {
    var partitions: [(FetchPartitionKey, FetchSessionPartition)]
    /// Session id to answer with (0 = no session).
    var sessionId: Int32
    /// Incremental fetches leave out partitions with nothing new.
    var incremental: Bool
    /// Partitions whose topic id or name is unknown, answered with an error.
    var unresolved: [FetchedPartition]
    var topLevelError: ErrorCode = .none
    /// Fetch v13+: partitions are named by topic id, and each read checks the id still names its topic.
    var byTopicId = false
    /// Some partitions are held for this client (answered without records): the fetch still waits.
    var holding = false
}

extension BrokerCore {
    func fetch(_ request: FetchRequest, _ context: HandlerRequest) -> EventLoopFuture<ResponsePayload> {
        let version = context.version
        let plan = refusingStaleAliasIds(authorizeFetch(planFetch(request, version: version), request, context), context)
        let isolation = IsolationLevel(wireValue: request.isolationLevel)
        let maxBytes = Int(min(max(request.maxBytes, 0), settings.fetchMaxBytesCap))
        let minBytes = Int(max(request.minBytes, 0))
        let deadline = NIODeadline.now() + .milliseconds(Int64(max(request.maxWaitMs, 0)))

        // A follower's fetch names its replica id (in the body up to v14, in ReplicaState from v15).
        let replicaId = version >= 15 ? request.replicaState.replicaId : request.replicaId
        let first = readPartitions(plan, maxBytes: maxBytes, isolation: isolation, replicaId: replicaId)
        let total = first.reduce(0) { $0 + $1.bytes }
        let hasError = first.contains { $0.errorCode != .none }
        if plan.topLevelError != .none || total >= minBytes || hasError || request.maxWaitMs <= 0 || (plan.partitions.isEmpty && !plan.holding) {
            // File ranges not in memory (a replay, a follower catching up) are read off the event loop
            // first: sendfile would wait for the disk on it, and every connection on it — producers' too —
            // with it (docs/benchmarks.md, session 19). A consumer's are read with O_DIRECT into memory and
            // sent from there (ColdReader, within its memory budget); a follower's into the page cache on
            // the blocking pool, where its read-ahead (PartitionLog.read) also goes.
            let cold = Self.coldRanges(first)
            guard !cold.isEmpty else {
                return context.eventLoop.makeSucceededFuture(
                    encodeFetch(plan: plan, partitions: first, version: version, context: context,
                                clientQuota: replicaId < 0, forReplica: replicaId >= 0))
            }
            let ranges = cold.map { (file: $0.file, start: $0.start, end: $0.end) }
            if replicaId < 0, let read = ColdReader.shared.read(ranges, on: context.eventLoop) {
                return read.map { [self] buffers in
                    encodeFetch(plan: plan, partitions: Self.replacingColdRegions(first, cold, with: buffers), version: version,
                                context: context, clientQuota: true, forReplica: false)
                }
            }
            // A follower's ranges, or a consumer's beyond log.cold.read.max.bytes.
            return NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
                for range in ranges { range.file.warm(from: range.start, to: range.end) }
            }
            .flatMapErrorThrowing { _ in }
            .map { [self] in
                encodeFetch(plan: plan, partitions: first, version: version, context: context,
                            clientQuota: replicaId < 0, forReplica: replicaId >= 0)
            }
        }
        // Long poll: park until an append to one of these partitions brings enough bytes, or the deadline.
        let promise = context.eventLoop.makePromise(of: ResponsePayload.self)
        let wait = DelayedFetch(eventLoop: context.eventLoop, deadline: deadline) { [self] expired in
            // A re-read of a parked fetch is not a new fetch: the follower's progress was recorded when
            // the request arrived (a fetch parked by a process that has since stopped must not bring
            // its replica back into the ISR when it completes).
            let now = readPartitions(plan, maxBytes: maxBytes, isolation: isolation, replicaId: replicaId,
                                     recordProgress: false)
            let bytes = now.reduce(0) { $0 + $1.bytes }
            guard expired || bytes >= minBytes || now.contains(where: { $0.errorCode != .none }) else { return false }
            promise.succeed(encodeFetch(plan: plan, partitions: now, version: version, context: context,
                                        clientQuota: replicaId < 0, forReplica: replicaId >= 0))
            return true
        }
        let partitions = plan.partitions.compactMap { key, _ in clientPartition(topic: key.topic, index: key.partition).partition }
        wait.start(watching: partitions)
        return promise.futureResult
    }

    /// The file ranges of the partitions with a region not wholly in the page cache: every
    /// region of such a partition (its records are then read whole), with the partition's index.
    static func coldRanges(_ partitions: [FetchedPartition]) -> [(partition: Int, file: LogFileHandle, start: Int64, end: Int64)] {
        var cold: [(partition: Int, file: LogFileHandle, start: Int64, end: Int64)] = []
        for (index, partition) in partitions.enumerated() {
            guard case let .file(regions) = partition.records else { continue }
            let wanted = regions.filter { $0.region.endIndex > $0.region.readerIndex }
            guard wanted.contains(where: { !$0.lease.file.isCached(from: Int64($0.region.readerIndex), to: Int64($0.region.endIndex)) }) else { continue }
            for (region, lease) in wanted {
                cold.append((index, lease.file, Int64(region.readerIndex), Int64(region.endIndex)))
            }
        }
        return cold
    }

    /// `partitions` with the records of each partition in `cold` replaced by the bytes read for it, when
    /// every one of its ranges was read (otherwise it keeps its file regions: sendfile reads them).
    static func replacingColdRegions(_ partitions: [FetchedPartition], _ cold: [(partition: Int, file: LogFileHandle, start: Int64, end: Int64)],
                                     with buffers: [ByteBuffer?]) -> [FetchedPartition] {
        var result = partitions
        var read: [Int: [ByteBuffer]] = [:]
        var failed: Set<Int> = []
        for (range, bytes) in zip(cold, buffers) {
            if let bytes { read[range.partition, default: []].append(bytes) } else { failed.insert(range.partition) }
        }
        for (index, bytes) in read where !failed.contains(index) && index < result.count {
            result[index].records = .buffers(bytes)
        }
        return result
    }

    /// Resolves topics and applies the fetch session rules of KIP-227.
    func planFetch(_ request: FetchRequest, version: Int16) -> FetchPlan {
        var requested: [(FetchPartitionKey, FetchSessionPartition)] = []
        var unresolved: [FetchedPartition] = []
        for topic in request.topics {
            let metadata: TopicMetadata? = version >= 13 ? metadataStore.topic(id: topic.topicId)
                                                         : metadataStore.image.topic(resolving: topic.topic)?.metadata
            for partition in topic.partitions {
                guard let metadata else {
                    var failed = FetchedPartition(key: FetchPartitionKey(topic: topic.topic, partition: partition.partition),
                                                  topicId: topic.topicId)
                    failed.errorCode = version >= 13 ? .unknownTopicId : .unknownTopicOrPartition
                    unresolved.append(failed)
                    continue
                }
                // By name, the key keeps the client's name (an alias answers under it); reads resolve it.
                let key = FetchPartitionKey(topic: version >= 13 ? metadata.name : topic.topic, partition: partition.partition)
                requested.append((key, FetchSessionPartition(
                    topicId: metadata.topicId, fetchOffset: partition.fetchOffset, maxBytes: partition.partitionMaxBytes,
                    currentLeaderEpoch: partition.currentLeaderEpoch, lastFetchedEpoch: partition.lastFetchedEpoch,
                    logStartOffset: partition.logStartOffset,
                    durableEndOffset: partition.unknownTaggedFields.isEmpty ? nil
                        : ReplicationTags.durableEndOffset(in: partition.unknownTaggedFields))))
            }
        }
        var plan = FetchPlan(partitions: requested, sessionId: 0, incremental: false, unresolved: unresolved)
        plan.byTopicId = version >= 13
        guard version >= 7 else { return plan }
        let sessionId = request.sessionId
        let epoch = request.sessionEpoch
        if epoch == -1 || epoch == 0 {
            // A full fetch: -1 closes any session and stays sessionless, 0 (re)creates one.
            if sessionId != 0 { fetchSessions.remove(id: sessionId) }
            if epoch == 0 { plan.sessionId = fetchSessions.create(partitions: requested) }
            return plan
        }
        var forgotten: [FetchPartitionKey] = []
        for topic in request.forgottenTopicsData {
            let name = version >= 13 ? metadataStore.topic(id: topic.topicId)?.name : topic.topic
            guard let name else { continue }
            for partition in topic.partitions { forgotten.append(FetchPartitionKey(topic: name, partition: partition)) }
        }
        switch fetchSessions.update(id: sessionId, epoch: epoch, changed: requested, forgotten: forgotten) {
        case .success(let session):
            plan.sessionId = session.id
            plan.incremental = true
            plan.partitions = session.order.compactMap { key in session.partitions[key].map { (key, $0) } }
        case .failure(.sessionIdNotFound):
            plan.topLevelError = .fetchSessionIdNotFound
            plan.partitions = []
        case .failure(.invalidEpoch):
            plan.topLevelError = .invalidFetchSessionEpoch
            plan.partitions = []
        }
        return plan
    }

    /// Reads every planned partition within the response's byte budget (KIP-74: the first batch of
    /// the first partition with data is returned even when it alone exceeds the budget).
    /// A follower (`replicaId` ≥ 0) reads up to the log end offset and its fetch offset counts as its
    /// progress; consumers read up to the high watermark (or the last stable offset). Both only from
    /// the leader. `recordProgress` false re-reads a parked fetch without counting it as the follower's
    /// progress again.
    func readPartitions(_ plan: FetchPlan, maxBytes: Int, isolation: IsolationLevel,
                        replicaId: Int32 = -1, recordProgress: Bool = true) -> [FetchedPartition] {
        var results = plan.unresolved
        var remaining = maxBytes
        var anyData = false
        let isReplica = replicaId >= 0
        let now = isReplica ? Partition.nowMs() : 0
        // KIP-841: only a registered broker that is not shutting down may join an ISR.
        let isrEligible = isReplica && recordProgress
            && metadataStore.image.brokers[replicaId].map { !$0.inControlledShutdown } == true
        for (key, wanted) in plan.partitions {
            var result = FetchedPartition(key: key, topicId: wanted.topicId)
            if plan.byTopicId, metadataStore.topic(named: key.topic)?.topicId != wanted.topicId {
                // A stale topic id (the topic was deleted, or deleted and created again since the fetch
                // session learned it): UNKNOWN_TOPIC_ID makes the client refresh its metadata (KIP-516).
                result.errorCode = .unknownTopicId
                results.append(result)
                continue
            }
            let (topic, hosted) = clientPartition(topic: key.topic, index: key.partition)  // an alias reads its target
            guard let partition = hosted else {
                result.errorCode = metadataStore.topic(named: topic).map { replicas.notHostedError(topic: $0, index: key.partition) }
                    ?? .unknownTopicOrPartition
                results.append(result)
                continue
            }
            // A follower whose last fetched epoch ends earlier in this leader's log has diverged: it is
            // told where (KIP-320) and its fetch offset does not count as progress.
            let diverging = isReplica ? partition.divergence(lastFetchedEpoch: wanted.lastFetchedEpoch,
                                                             fetchOffset: wanted.fetchOffset) : nil
            let notLeader = isReplica && recordProgress && diverging == nil
                ? partition.recordFollowerFetch(replica: replicaId, fetchOffset: wanted.fetchOffset,
                                                durableEndOffset: wanted.durableEndOffset, nowMs: now, isrEligible: isrEligible)
                : partition.leaderCheck()
            if let notLeader {
                result.errorCode = notLeader
            } else if wanted.currentLeaderEpoch > partition.leaderEpoch {
                result.errorCode = .unknownLeaderEpoch
            } else if wanted.currentLeaderEpoch >= 0 && wanted.currentLeaderEpoch < partition.leaderEpoch {
                result.errorCode = .fencedLeaderEpoch
            } else if let diverging {
                result.divergingEpoch = diverging
            } else if let throttled = replicationThrottleBudget(partition, replicaId: replicaId), throttled <= 0 {
                // leader.replication.throttled.rate used up: this throttled replica gets nothing for now.
            } else {
                let throttled = replicationThrottleBudget(partition, replicaId: replicaId)
                let budget = min(Int(max(wanted.maxBytes, 0)), remaining, Int(clamping: throttled ?? Int64.max))
                switch partition.read(from: wanted.fetchOffset, maxBytes: budget, isolation: isolation,
                                      forReplica: isReplica, minOneBatch: !anyData) {
                case .success(let read):
                    if isReplica { result.leaderAppendedEndOffset = partition.log.appendedEndOffset }
                    result.records = read.records
                    result.abortedTransactions = isolation == .readCommitted ? read.abortedTransactions : nil
                    remaining = max(0, remaining - read.records.byteCount)
                    if read.records.byteCount > 0 { anyData = true }
                    if throttled != nil { replicas.leaderThrottle.record(read.records.byteCount) }
                case .failure(let error):
                    result.errorCode = error.errorCode
                }
            }
            result.highWatermark = partition.highWatermark
            result.lastStableOffset = partition.lastStableOffset
            result.logStartOffset = partition.logStartOffset
            results.append(result)
        }
        return results
    }

    /// For a replica whose fetch this leader throttles (the topic's `leader.replication.throttled.replicas`
    /// names this partition on this broker and the replica is out of the ISR: ThrottledReplicas.swift),
    /// the bytes `leader.replication.throttled.rate` allows now (≤ 0: none); nil when not throttled.
    private func replicationThrottleBudget(_ partition: Partition, replicaId: Int32) -> Int64? {
        guard replicaId >= 0, replicas.leaderThrottle.isLimited,
              ReplicationThrottleRule.leaderThrottles(partition.currentSettings.leaderThrottledReplicas,
                                                      partition: partition.index, leader: replicas.nodeId,
                                                      follower: replicaId, isr: partition.leadershipSnapshot.isr)
        else { return nil }
        return replicas.leaderThrottle.available()
    }

    func encodeFetch(plan: FetchPlan, partitions: [FetchedPartition], version: Int16,
                     context: HandlerRequest, clientQuota: Bool = false, forReplica: Bool = false) -> ResponsePayload {
        // Consumers' fetches count against their fetch quota (Quotas/); followers' never do.
        let (partitions, throttleTimeMs) = clientQuota ? throttledFetch(partitions, context) : (partitions, 0)
        var included = partitions
        if plan.incremental {
            let session = plan.partitions.reduce(into: [FetchPartitionKey: FetchSessionPartition]()) { $0[$1.0] = $1.1 }
            included = partitions.filter { p in
                guard let known = session[p.key] else { return true }
                return p.bytes > 0 || p.errorCode != .none || p.highWatermark != known.lastHighWatermark
                    || p.lastStableOffset != known.lastLastStableOffset || p.logStartOffset != known.lastLogStartOffset
            }
        }
        if plan.sessionId != 0 {
            var sent: [FetchPartitionKey: (hw: Int64, lso: Int64, logStart: Int64)] = [:]
            for p in included { sent[p.key] = (p.highWatermark, p.lastStableOffset, p.logStartOffset) }
            fetchSessions.recordResponse(id: plan.sessionId, sent: sent,
                                         returnedData: included.filter { $0.bytes > 0 }.map(\.key))
        }
        errorMetrics.record(apiKey: ApiKey.fetch.rawValue, code: plan.topLevelError.rawValue)
        for fetched in included {
            if fetched.errorCode != .none {
                errorMetrics.record(apiKey: ApiKey.fetch.rawValue, code: fetched.errorCode.rawValue)
            } else if fetched.bytes > 0 {
                replicas.partition(topic: fetched.key.topic, index: fetched.key.partition)?.traffic.bytesOut.increment(by: fetched.bytes)
            }
        }
        var writer = FetchResponseWriter(version: version, allocator: ByteBufferAllocator())
        return writer.encode(correlationId: context.header.correlationId, errorCode: plan.topLevelError,
                             sessionId: plan.sessionId, partitions: included, throttleTimeMs: throttleTimeMs,
                             honoursDurableEndOffset: forReplica)
    }
}
