// GroupCoordinator: Kafka's classic group coordinator — owns the groups of the `__consumer_offsets`
// partitions this broker leads, runs their rebalance state machines, and stores offsets and group
// metadata as records. Join/sync/heartbeat/leave, offsets, admin, timers and loading are in the
// GroupCoordinator+*.swift extensions.
import Foundation
import KafkaProtocol
import Logging
import NIOCore

/// The classic group coordinator. An actor: group operations are sequential and off the produce/fetch
/// hot path. Time comes from an injected `GroupClock`; deadlines are checked by `runTimers()`, which
/// `startTimer()` calls every `timerTickMs` (tests call it directly after moving a manual clock).
public actor GroupCoordinator {
    /// A producer's transaction in one `__consumer_offsets` partition.
    struct TransactionKey: Hashable, Sendable {
        var partition: Int32
        var producerId: Int64
    }

    /// Whether a `__consumer_offsets` partition's groups are served here.
    enum PartitionState: Sendable {
        case loading
        case loaded
    }

    let config: GroupCoordinatorConfig
    let store: any GroupLogStore
    let clock: any GroupClock
    let logger: Logger
    var groups: [String: ClassicGroup] = [:]
    var partitions: [Int32: PartitionState] = [:]
    var nextRetentionCheckMs: Int64
    /// Per `__consumer_offsets` partition, the position the next appended record gets: positions follow
    /// log order (loaded entries are numbered first, then every append in call order, which the store
    /// keeps), so comparing two positions tells which record was written later.
    var nextLogPosition: [Int32: Int64] = [:]
    /// Per partition, the groups each open transaction (producer id) has pending offsets in: where a
    /// COMMIT/ABORT marker of that producer applies.
    var openTransactions: [Int32: [Int64: Set<String>]] = [:]
    /// Transactional appends not yet durable, per partition and producer id.
    var transactionalWritesInFlight: [TransactionKey: Int] = [:]
    /// Markers reported while the partition was loading or while the producer's transactional append to it
    /// was still in flight; applied, in order, once the load or the append has finished.
    var deferredTransactionCompletions: [TransactionKey: [Bool]] = [:]
    private var timerTask: Task<Void, Never>?

    /// Creates a coordinator that owns no partition yet; call `loadPartition(_:)` (or
    /// `loadAllPartitions()` on a single node) before serving groups.
    public init(config: GroupCoordinatorConfig, store: any GroupLogStore,
                clock: any GroupClock = SystemGroupClock(),
                logger: Logger = Logger(label: "runnel.group-coordinator")) {
        self.config = config
        self.store = store
        self.clock = clock
        self.logger = logger
        self.nextRetentionCheckMs = clock.nowMs() + config.offsetsRetentionCheckIntervalMs
    }

    /// The `__consumer_offsets` partition of `groupId`.
    public nonisolated func partition(for groupId: String) -> Int32 {
        GroupPartitioner.partition(for: groupId, partitionCount: config.offsetsTopicPartitions)
    }

    /// Starts the timer task that expires sessions, completes delayed rebalances and expires offsets.
    public func startTimer() {
        guard timerTask == nil else { return }
        let tick = Duration.milliseconds(max(config.timerTickMs, 1))
        timerTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self else { return }
                await self.runTimers()
            }
        }
    }

    /// Stops the timer and answers every parked request with NOT_COORDINATOR, so clients look for the
    /// coordinator again. Used on broker shutdown.
    public func shutdown() {
        timerTask?.cancel()
        timerTask = nil
        for partition in Array(partitions.keys) { unloadPartition(partition) }
    }

    // MARK: - Shared checks

    /// The error for a request about `groupId` that this coordinator cannot serve, or nil.
    func coordinatorError(for groupId: String) -> ErrorCode? {
        switch partitions[partition(for: groupId)] {
        case .loaded: nil
        case .loading: .coordinatorLoadInProgress
        case nil: .notCoordinator
        }
    }

    /// Group-level error for a group request: invalid id or not served here.
    func groupRequestError(_ groupId: String) -> ErrorCode? {
        if groupId.isEmpty { return .invalidGroupId }
        return coordinatorError(for: groupId)
    }

    /// The live (not Dead) group named `groupId`.
    func liveGroup(_ groupId: String) -> ClassicGroup? {
        guard let group = groups[groupId], group.state != .dead else { return nil }
        return group
    }

    func now() -> Int64 { clock.nowMs() }

    /// A new member id: `<client.id or group.instance.id>-<uuid>`, as Kafka builds them.
    func newMemberId(clientId: String, groupInstanceId: String?) -> String {
        "\(groupInstanceId ?? clientId)-\(UUID().uuidString.lowercased())"
    }

    // MARK: - Inspection (tests, metrics)

    /// The state of `groupId`, if the group exists.
    public func state(of groupId: String) -> ClassicGroupState? { groups[groupId]?.state }

    /// The generation of `groupId`, if the group exists.
    public func generation(of groupId: String) -> Int32? { groups[groupId]?.generationId }

    /// Member ids of `groupId` in join order.
    public func memberIds(of groupId: String) -> [String] { groups[groupId]?.memberOrder ?? [] }

    /// The leader of `groupId`'s current generation.
    public func leader(of groupId: String) -> String? { groups[groupId]?.leaderId }

    /// Number of groups this coordinator holds (any state but Dead).
    public var groupCount: Int { groups.values.filter { $0.state != .dead }.count }
}
