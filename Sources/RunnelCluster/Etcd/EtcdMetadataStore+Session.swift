// This broker's session: a lease, the registration key under it, and the controller campaign.
import Foundation
import Logging
import RunnelEtcd

extension EtcdMetadataStore {
    /// Registers, campaigns and, when the lease is lost, starts over with a new lease — until shutdown.
    func runSession() async {
        var failures = 0
        while !Task.isCancelled && !state.withLock({ $0.closed }) {
            let keeper: EtcdLeaseKeeper
            do {
                keeper = try await EtcdLeaseKeeper.start(client: client, ttl: configuration.leaseTTL, logger: logger) { [weak self] reason in
                    self?.leaseLost(reason)
                }
            } catch {
                failures += 1
                noteRegistrationProblem("could not get a lease: \(error)", log: failures == 1)
                await backOff(failures)
                continue
            }
            let closed = state.withLock { state -> Bool in
                state.keeper = keeper
                return state.closed
            }
            if closed {
                await keeper.revoke()
                return
            }
            if await register(keeper) {
                failures = 0
                await campaign(while: keeper)
            }
            if state.withLock({ $0.closed }) { return }
            await keeper.revoke()  // a lease whose deadline passed may still live on etcd's side: end it now
            failures += 1
            await backOff(failures)
        }
    }

    /// Puts `<prefix>/brokers/<id>` under the lease unless the key exists (another live registration of
    /// this node id, or this node's previous one waiting for its lease to expire). True once registered.
    private func register(_ keeper: EtcdLeaseKeeper) async -> Bool {
        let key = layout.broker(nodeId)
        var record = configuration.registration
        record.inControlledShutdown = state.withLock { $0.controlledShutdown }
        let value = EtcdRecordCoding.encode(record)
        var waitingLogged = false
        while keeper.isAlive && !Task.isCancelled {
            let txn = EtcdTransaction(compare: [.absent(key)], success: [.put(key: key, value: value, lease: keeper.lease.id)],
                                      failure: [.range(.key(key))])
            let generation = state.withLock { $0.generation }
            do {
                let result = try await client.transaction(txn)
                if result.succeeded {
                    let epoch = result.revision
                    // The cache shows the registration before the broker counts as registered: start-up
                    // (internal topics placed over the live brokers) must see at least this broker.
                    await waitUntilApplied(epoch)
                    guard keeper.isAlive else { return false }
                    setRegistration(.registered(brokerEpoch: epoch), problem: nil)
                    logger.info("broker registered", metadata: [
                        "node_id": "\(nodeId)", "broker_epoch": "\(epoch)", "lease": "\(keeper.lease.id)",
                        "lease_ttl_ms": "\(keeper.lease.ttl.wholeMilliseconds)"])
                    return true
                }
                let holder = result.rangedKeyValues.first
                let other = holder.flatMap { try? JSONDecoder().decode(BrokerRegistration.self, from: $0.value) }
                let problem = "node id \(nodeId) is registered by another broker (incarnation \(other?.incarnationId ?? "?"), \(other?.host ?? "?"):\(other?.port ?? 0)); waiting for its lease to expire"
                noteRegistrationProblem(problem, log: !waitingLogged)
                waitingLogged = true
            } catch {
                noteRegistrationProblem("registration failed: \(error)", log: true)
            }
            await wait(for: .changeAfter(generation), timeout: keeper.lease.ttl / 3)
        }
        return false
    }

    /// While the lease lives: whenever the controller key is vacant, try to take it under the lease.
    private func campaign(while keeper: EtcdLeaseKeeper) async {
        while keeper.isAlive && !Task.isCancelled {
            let (vacant, generation) = state.withLock { ($0.cache.image.controller == nil, $0.generation) }
            if vacant && configuration.controllerEligible {
                let record = EtcdControllerRecord(nodeId: nodeId, incarnationId: configuration.registration.incarnationId)
                let txn = EtcdTransaction(
                    compare: [.absent(layout.controller), EtcdCompare(key: layout.broker(nodeId), .equal, .lease(keeper.lease.id))],
                    success: [.put(key: layout.controller, value: EtcdRecordCoding.encode(record), lease: keeper.lease.id)])
                do {
                    let result = try await client.transaction(txn)
                    if result.succeeded {
                        await waitUntilApplied(result.revision)
                        logger.info("elected controller", metadata: ["node_id": "\(nodeId)", "controller_epoch": "\(result.revision)"])
                    } else {
                        // Someone else won, or the cache is behind: the watch brings the winner.
                        await waitUntilApplied(result.revision)
                    }
                    continue
                } catch {
                    logger.warning("controller campaign failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            await wait(for: .changeAfter(generation), timeout: keeper.lease.ttl / 3)
        }
    }

    /// The keeper's loss callback: from now on this broker must not act as leader or controller.
    private func leaseLost(_ reason: String) {
        setRegistration(.lost(reason: reason), problem: reason)
    }

    private func setRegistration(_ registration: RegistrationState, problem: String?) {
        state.withLock { state in
            guard !state.closed, state.registration != registration else { return }
            state.registration = registration
            state.registrationProblem = problem
            broadcaster.publish(MetadataUpdate(revision: state.cache.image.revision, changes: [.registrationChanged(registration)],
                                               image: state.cache.image))
            state.bump()
        }
    }

    private func noteRegistrationProblem(_ problem: String, log: Bool) {
        state.withLock { $0.registrationProblem = problem }
        if log { logger.warning("broker not registered", metadata: ["node_id": "\(nodeId)", "reason": "\(problem)"]) }
    }

    private func backOff(_ failures: Int) async {
        let delay = min(2000, 100 << min(failures, 5))
        await wait(for: .changeAfter(.max), timeout: .milliseconds(delay))
    }
}
