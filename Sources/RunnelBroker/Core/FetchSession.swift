// Incremental fetch sessions (KIP-227): the broker remembers a consumer's partition set so that
// later fetches send and receive only what changed.
import KafkaProtocol
import Synchronization

/// A partition in a fetch, identified the way the request version allows (name, or id for v13+).
struct FetchPartitionKey: Hashable, Sendable {
    var topic: String
    var partition: Int32
}

/// What a session remembers of one partition: the consumer's position and what it was last told.
struct FetchSessionPartition: Sendable {
    var topicId: KafkaUUID
    var fetchOffset: Int64
    var maxBytes: Int32
    var currentLeaderEpoch: Int32
    var lastFetchedEpoch: Int32
    var logStartOffset: Int64
    /// A Runnel follower's durable end (`ReplicationTags.durableEndOffset`); nil when the fetch did not say.
    var durableEndOffset: Int64? = nil
    /// Values last sent to the client, so an incremental response can leave out unchanged partitions.
    var lastHighWatermark: Int64 = -1
    var lastLastStableOffset: Int64 = -1
    var lastLogStartOffset: Int64 = -1
}

/// One consumer's (or follower's) session.
struct FetchSession: Sendable {
    let id: Int32
    /// The epoch the next request must carry.
    var nextEpoch: Int32
    /// Partitions in fetch order; partitions that returned data rotate to the back for fairness.
    var order: [FetchPartitionKey]
    var partitions: [FetchPartitionKey: FetchSessionPartition]
    var lastUsed: UInt64
}

/// Errors a fetch session lookup can end in, as Kafka names them.
enum FetchSessionError: Error {
    case sessionIdNotFound
    case invalidEpoch
}

/// The broker's bounded set of fetch sessions (`max.incremental.fetch.session.cache.slots`), LRU-evicted.
final class FetchSessionCache: Sendable {
    private struct State: Sendable {
        var sessions: [Int32: FetchSession] = [:]
        var clock: UInt64 = 0
        var nextId: Int32 = 1
    }
    private let state = Mutex(State())
    let maxSessions: Int

    init(maxSessions: Int) {
        self.maxSessions = maxSessions
    }

    /// Creates a session for a full fetch with epoch 0; returns its id, or 0 when sessions are disabled.
    func create(partitions: [(FetchPartitionKey, FetchSessionPartition)]) -> Int32 {
        guard maxSessions > 0 else { return 0 }
        return state.withLock { s in
            if s.sessions.count >= maxSessions,
               let oldest = s.sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                s.sessions.removeValue(forKey: oldest)
            }
            var id = s.nextId
            while s.sessions[id] != nil || id == 0 { id = id == Int32.max ? 1 : id + 1 }
            s.nextId = id == Int32.max ? 1 : id + 1
            s.clock += 1
            var session = FetchSession(id: id, nextEpoch: 1, order: [], partitions: [:], lastUsed: s.clock)
            for (key, value) in partitions where session.partitions[key] == nil {
                session.order.append(key)
                session.partitions[key] = value
            }
            s.sessions[id] = session
            return id
        }
    }

    func remove(id: Int32) {
        _ = state.withLock { $0.sessions.removeValue(forKey: id) }
    }

    /// Applies an incremental request to session `id` at `epoch`: updates and adds `changed`, drops
    /// `forgotten`, advances the epoch. Returns the session as it now is.
    func update(id: Int32, epoch: Int32, changed: [(FetchPartitionKey, FetchSessionPartition)],
                forgotten: [FetchPartitionKey]) -> Result<FetchSession, FetchSessionError> {
        state.withLock { s in
            guard var session = s.sessions[id] else { return .failure(.sessionIdNotFound) }
            guard session.nextEpoch == epoch else { return .failure(.invalidEpoch) }
            for key in forgotten where session.partitions.removeValue(forKey: key) != nil {
                session.order.removeAll { $0 == key }
            }
            for (key, value) in changed {
                if var existing = session.partitions[key] {
                    existing.fetchOffset = value.fetchOffset
                    existing.maxBytes = value.maxBytes
                    existing.currentLeaderEpoch = value.currentLeaderEpoch
                    existing.lastFetchedEpoch = value.lastFetchedEpoch
                    existing.logStartOffset = value.logStartOffset
                    existing.durableEndOffset = value.durableEndOffset
                    existing.topicId = value.topicId
                    session.partitions[key] = existing
                } else {
                    session.order.append(key)
                    session.partitions[key] = value
                }
            }
            session.nextEpoch = epoch == Int32.max ? 1 : epoch + 1
            s.clock += 1
            session.lastUsed = s.clock
            s.sessions[id] = session
            return .success(session)
        }
    }

    /// Records what was sent, and rotates partitions that returned data to the back of the order.
    func recordResponse(id: Int32, sent: [FetchPartitionKey: (hw: Int64, lso: Int64, logStart: Int64)],
                        returnedData: [FetchPartitionKey]) {
        state.withLock { s in
            guard var session = s.sessions[id] else { return }
            for (key, values) in sent {
                guard var partition = session.partitions[key] else { continue }
                partition.lastHighWatermark = values.hw
                partition.lastLastStableOffset = values.lso
                partition.lastLogStartOffset = values.logStart
                session.partitions[key] = partition
            }
            if !returnedData.isEmpty {
                let moved = Set(returnedData)
                session.order = session.order.filter { !moved.contains($0) } + session.order.filter { moved.contains($0) }
            }
            s.sessions[id] = session
        }
    }

    var count: Int { state.withLock { $0.sessions.count } }
}
