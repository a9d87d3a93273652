// EtcdLeaseKeeper: holds one lease alive (renewing every TTL/3) and says it is lost *before* etcd can
// expire it, so its owner can stop acting on what the lease guards.
import Logging
import Synchronization

/// Keeps a granted lease alive.
///
/// The keeper renews every TTL/3. etcd restarts a lease's TTL when it *processes* a keep-alive, which is
/// no earlier than the keeper *sent* it; so the lease cannot expire on etcd's side before
/// `last acknowledged send + TTL`. The keeper declares the lease lost at its **loss deadline**,
/// `last acknowledged send + 3/4 TTL` — a quarter TTL before the earliest moment etcd could expire it —
/// giving its owner that long to stop acting (as a partition leader, as the controller) before another
/// broker can take over. `isAlive` turns false at the deadline even if the renewal task is late.
public final class EtcdLeaseKeeper: Sendable {
    /// The lease held.
    public let lease: EtcdLease
    private let client: EtcdClient
    private let logger: Logger
    private let onLost: @Sendable (String) -> Void
    private let state: Mutex<KeeperState>
    private static let clock = ContinuousClock()

    private struct KeeperState {
        var lastAcknowledgedSend: ContinuousClock.Instant
        var lostReason: String?
        var renewing = true
        var task: Task<Void, Never>?
    }

    /// Grants a lease of `ttl` and starts renewing it; `onLost` runs once, at the loss deadline or when
    /// etcd says the lease is gone (not after `revoke()`).
    public static func start(client: EtcdClient, ttl: Duration, logger: Logger,
                             onLost: @escaping @Sendable (String) -> Void) async throws(EtcdError) -> EtcdLeaseKeeper {
        let sent = clock.now
        let lease = try await client.grantLease(ttl: ttl)
        let keeper = EtcdLeaseKeeper(lease: lease, client: client, grantedAt: sent, logger: logger, onLost: onLost)
        keeper.state.withLock { $0.task = Task { await keeper.run() } }
        return keeper
    }

    private init(lease: EtcdLease, client: EtcdClient, grantedAt: ContinuousClock.Instant, logger: Logger,
                 onLost: @escaping @Sendable (String) -> Void) {
        self.lease = lease
        self.client = client
        self.logger = logger
        self.onLost = onLost
        self.state = Mutex(KeeperState(lastAcknowledgedSend: grantedAt))
    }

    /// The span between the last acknowledged renewal and the loss deadline: 3/4 of the TTL.
    public var lossMargin: Duration { lease.ttl - lease.ttl / 4 }

    /// When the lease will be declared lost unless a renewal is acknowledged before.
    public var lossDeadline: ContinuousClock.Instant { state.withLock { $0.lastAcknowledgedSend } + lossMargin }

    /// The earliest moment etcd could expire the lease: last acknowledged send + TTL.
    public var earliestExpiry: ContinuousClock.Instant { state.withLock { $0.lastAcknowledgedSend } + lease.ttl }

    /// True until the lease is lost, revoked, or its loss deadline has passed.
    public var isAlive: Bool {
        state.withLock { $0.lostReason == nil && Self.clock.now < $0.lastAcknowledgedSend + lossMargin }
    }

    /// Why the lease was lost, nil while alive.
    public var lostReason: String? { state.withLock { $0.lostReason } }

    /// Stops renewing and revokes the lease, deleting its keys at once (a clean shutdown).
    public func revoke() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            if state.lostReason == nil { state.lostReason = "revoked" }
            state.renewing = false
            return state.task
        }
        task?.cancel()
        do {
            try await client.revokeLease(lease.id)
        } catch {
            logger.warning("could not revoke lease; it expires after its TTL", metadata: [
                "lease": "\(lease.id)", "ttl_ms": "\(lease.ttl.wholeMilliseconds)", "error": "\(error)"])
        }
    }

    /// Stops sending renewals without revoking — what a paused or cut-off process looks like to etcd.
    /// The keeper still declares the lease lost at its deadline. For fault-injection tests.
    public func stopRenewing() {
        state.withLock { $0.renewing = false }
    }

    private func run() async {
        var lastAttempt = Self.clock.now
        var retrying = false
        while true {
            let (deadline, renewing) = state.withLock { ($0.lastAcknowledgedSend + lossMargin, $0.renewing) }
            let now = Self.clock.now
            if now >= deadline {
                markLost("no keep-alive acknowledged within \(lossMargin.wholeMilliseconds) ms (TTL \(lease.ttl.wholeMilliseconds) ms)")
                return
            }
            // Renew every TTL/3; after a failure, retry every TTL/12 until the deadline.
            let nextAttempt = lastAttempt + (retrying ? lease.ttl / 12 : lease.ttl / 3)
            let wake = renewing ? min(nextAttempt, deadline) : deadline
            do { try await Task.sleep(until: wake, clock: Self.clock) } catch { return }
            guard state.withLock({ $0.renewing }) else { continue }
            let sent = Self.clock.now
            let deadlineNow = state.withLock { $0.lastAcknowledgedSend + lossMargin }
            guard sent < deadlineNow else { continue }
            lastAttempt = sent
            do {
                _ = try await client.keepAlive(lease: lease.id, timeout: min(client.configuration.requestTimeout, deadlineNow - sent))
                state.withLock { $0.lastAcknowledgedSend = max($0.lastAcknowledgedSend, sent) }
                retrying = false
            } catch {
                if Task.isCancelled { return }
                if case .leaseNotFound = error.kind {
                    markLost("etcd no longer has lease \(lease.id) (expired or revoked)")
                    return
                }
                if !retrying {
                    logger.warning("lease keep-alive failed; retrying until the loss deadline", metadata: [
                        "lease": "\(lease.id)", "error": "\(error)"])
                }
                retrying = true
            }
        }
    }

    private func markLost(_ reason: String) {
        let first = state.withLock { state -> Bool in
            guard state.lostReason == nil else { return false }
            state.lostReason = reason
            state.renewing = false
            return true
        }
        guard first else { return }
        logger.error("lease lost", metadata: ["lease": "\(lease.id)", "reason": "\(reason)"])
        onLost(reason)
    }
}
