// Tests of transactional offset commits (TxnOffsetCommit): pending offsets until the transaction's marker,
// require_stable, member checks, the transaction verifier, replay after a restart, the later-write rule
// between transactional and plain commits, deletion and expiry with open transactions, and the
// transactional batches and markers of `__consumer_offsets`.
import KafkaProtocol
import KafkaRecords
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelGroups

/// A verifier answering a fixed error and recording what it was asked.
final class RecordingVerifier: TransactionVerifier {
    private let state = Mutex<(answer: ErrorCode, calls: [String])>((.none, []))

    init(answer: ErrorCode) { state.withLock { $0.answer = answer } }

    var calls: [String] { state.withLock { $0.calls } }

    func verifyOffsetCommit(transactionalId: String, producerId: Int64, producerEpoch: Int16,
                            groupId: String, addPartition: Bool) async -> ErrorCode {
        state.withLock { state in
            state.calls.append("\(transactionalId)/\(producerId)/\(producerEpoch)/\(groupId)")
            return state.answer
        }
    }
}

/// An in-memory store whose loads wait until the test opens the gate.
final class GatedLoadStore: GroupLogStore {
    let inner = InMemoryGroupLogStore()
    private let gate = Mutex<(loading: Bool, open: Bool)>((false, true))

    var loading: Bool { gate.withLock { $0.loading } }
    func close() { gate.withLock { $0.open = false } }
    func open() { gate.withLock { $0.open = true } }

    func append(partition: Int32, records: [GroupLogRecord], producer: GroupLogProducer?) async throws(GroupLogStoreError) {
        try await inner.append(partition: partition, records: records, producer: producer)
    }

    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] {
        gate.withLock { $0.loading = true }
        for _ in 0..<5000 where !gate.withLock({ $0.open }) {
            try? await Task.sleep(for: .milliseconds(1))
        }
        gate.withLock { $0.loading = false }
        return try await inner.load(partition: partition)
    }
}

@Suite struct GroupTransactionalOffsetTests {
    let p0 = TopicPartition(topic: "orders", partition: 0)
    let p1 = TopicPartition(topic: "orders", partition: 1)
    let producerId: Int64 = 4000
    let epoch: Int16 = 2

    // MARK: Helpers

    private func txnCommit(_ coordinator: GroupCoordinator, group: String = "g", producer: Int64? = nil,
                           generation: Int32 = -1, member: String = "", instance: String? = nil,
                           _ offsets: [(TopicPartition, Int64)]) async -> [ErrorCode] {
        await coordinator.commitTransactionalOffsets(
            groupId: group, producerId: producer ?? producerId, producerEpoch: epoch, generationId: generation,
            memberId: member, groupInstanceId: instance,
            offsets: offsets.map { OffsetCommitEntry(partition: $0.0, offset: $0.1, metadata: "txn") })
    }

    private func plainCommit(_ coordinator: GroupCoordinator, group: String = "g", _ partition: TopicPartition,
                             _ offset: Int64) async -> [ErrorCode] {
        await coordinator.commitOffsets(groupId: group, generationId: -1, memberId: "", groupInstanceId: nil,
                                        offsets: [OffsetCommitEntry(partition: partition, offset: offset)])
    }

    /// Writes the marker to the store and reports it to the coordinator, as the broker does once it is durable.
    private func endTransaction(_ fixture: GroupFixture, group: String = "g", producer: Int64? = nil,
                                commit: Bool) async {
        let partition = fixture.coordinator.partition(for: group)
        fixture.store.appendTransactionMarker(partition: partition, producerId: producer ?? producerId,
                                              producerEpoch: epoch, commit: commit)
        await fixture.coordinator.completeTransaction(partition: partition, producerId: producer ?? producerId,
                                                      producerEpoch: epoch, commit: commit)
    }

    private func offset(_ coordinator: GroupCoordinator, group: String = "g", _ partition: TopicPartition) async -> Int64? {
        await coordinator.fetchOffsets(groupId: group, partitions: [partition]).partitions.first?.offset?.offset
    }

    private func stableError(_ coordinator: GroupCoordinator, group: String = "g", _ partition: TopicPartition) async -> ErrorCode? {
        await coordinator.fetchOffsets(groupId: group, partitions: [partition], requireStable: true).partitions.first?.error
    }

    private func restart(_ store: InMemoryGroupLogStore) async throws -> GroupCoordinator {
        try await GroupFixture.make(store: store).coordinator
    }

    // MARK: Pending until the marker

    @Test func transactionalOffsetsStayInvisibleUntilTheTransactionCommits() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await txnCommit(coordinator, [(p0, 5), (p1, 6)]) == [.none, .none])
        // Written as one transactional batch of the producer, not applied.
        #expect(fixture.store.transactionalAppendCount == 1)
        #expect(fixture.store.entries(in: coordinator.partition(for: "g")).allSatisfy {
            if case .record(_, let producer) = $0 { producer == producerId } else { false }
        })
        #expect(await offset(coordinator, p0) == nil)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: nil).partitions.isEmpty)
        #expect(await coordinator.openTransactionProducers(of: "g") == [producerId])
        #expect(await coordinator.pendingTransactionalOffset(groupId: "g", producerId: producerId, partition: p1)?.offset == 6)
        // A marker of another producer, or in another partition, changes nothing.
        await coordinator.completeTransaction(partition: coordinator.partition(for: "g"), producerId: producerId + 1,
                                              producerEpoch: epoch, commit: true)
        await coordinator.completeTransaction(partition: (coordinator.partition(for: "g") + 1) % 4,
                                              producerId: producerId, producerEpoch: epoch, commit: true)
        #expect(await offset(coordinator, p0) == nil)

        await endTransaction(fixture, commit: true)
        #expect(await offset(coordinator, p0) == 5)
        #expect(await offset(coordinator, p1) == 6)
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset?.metadata == "txn")
        #expect(await stableError(coordinator, p0) == ErrorCode.none)
        #expect(await coordinator.openTransactionProducers(of: "g").isEmpty)
    }

    @Test func anAbortedTransactionsOffsetsAreDroppedAndTheCommittedOffsetStays() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await plainCommit(coordinator, p0, 3) == [.none])
        #expect(await txnCommit(coordinator, [(p0, 9)]) == [.none])
        // Without require_stable the last committed offset is returned while the transaction is open.
        #expect(await offset(coordinator, p0) == 3)
        await endTransaction(fixture, commit: false)
        #expect(await offset(coordinator, p0) == 3)
        #expect(await stableError(coordinator, p0) == ErrorCode.none)
        #expect(await coordinator.openTransactionProducers(of: "g").isEmpty)
        // A late COMMIT marker of the same producer finds nothing to apply.
        await endTransaction(fixture, commit: true)
        #expect(await offset(coordinator, p0) == 3)
    }

    @Test func requireStableAnswersUnstableOffsetCommitOnlyForPartitionsWithPendingOffsets() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await plainCommit(coordinator, p1, 1) == [.none])
        #expect(await txnCommit(coordinator, [(p0, 5)]) == [.none])
        let fetched = await coordinator.fetchOffsets(groupId: "g", partitions: [p0, p1], requireStable: true)
        #expect(fetched.error == .none)
        #expect(fetched.partitions.map(\.error) == [.unstableOffsetCommit, .none])
        #expect(fetched.partitions[0].offset == nil)
        #expect(fetched.partitions[1].offset?.offset == 1)
        await endTransaction(fixture, commit: true)
        let after = await coordinator.fetchOffsets(groupId: "g", partitions: [p0, p1], requireStable: true)
        #expect(after.partitions.map(\.error) == [.none, .none])
        #expect(after.partitions.map { $0.offset?.offset } == [5, 1])
    }

    // MARK: Member checks

    @Test func transactionalCommitsAreFencedByGenerationAndMemberButNotByState() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let memberId = await stableSingleMemberGroup(coordinator)
        #expect(await txnCommit(coordinator, generation: 0, member: memberId, [(p0, 1)]) == [.illegalGeneration])
        #expect(await txnCommit(coordinator, generation: 1, member: "ghost", [(p0, 1)]) == [.unknownMemberId])
        #expect(await txnCommit(coordinator, generation: 1, member: memberId, [(p0, 1)]) == [.none])
        // v0-2 name no member: accepted even though the group has members (unlike OffsetCommit).
        #expect(await txnCommit(coordinator, [(p0, 2)]) == [.none])
        #expect(await plainCommit(coordinator, p0, 2) == [.unknownMemberId])
        // The group's state is not enforced: a commit during CompletingRebalance is accepted.
        let (leader, _) = await addSecondMember(coordinator, first: memberId)
        #expect(await coordinator.state(of: "g") == .completingRebalance)
        #expect(await coordinator.commitOffsets(groupId: "g", generationId: 2, memberId: leader.memberId, groupInstanceId: nil,
                                                offsets: [OffsetCommitEntry(partition: p0, offset: 3)]) == [.rebalanceInProgress])
        #expect(await txnCommit(coordinator, generation: 2, member: leader.memberId, [(p0, 3)]) == [.none])
        // A group that does not exist needs a negative generation; the empty group id is refused.
        #expect(await txnCommit(coordinator, group: "solo", generation: 4, member: "m", [(p0, 1)]) == [.illegalGeneration])
        #expect(await coordinator.state(of: "solo") == nil)
        #expect(await txnCommit(coordinator, group: "solo", [(p0, 1)]) == [.none])
        #expect(await coordinator.state(of: "solo") == .empty)
        #expect(await txnCommit(coordinator, group: "", [(p0, 1)]) == [.invalidGroupId])
    }

    @Test func aFencedStaticInstanceCannotCommitTransactionally() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        let joined = await coordinator.joinGroup(joinParameters(instanceId: "i1"))
        #expect(joined.error == .none)
        let synced = await coordinator.syncGroup(groupId: "g", generationId: joined.generationId, memberId: joined.memberId,
                                                 groupInstanceId: "i1", protocolType: nil, protocolName: nil,
                                                 assignments: [joined.memberId: ByteBuffer(string: "A")])
        #expect(synced.error == .none)
        #expect(await txnCommit(coordinator, generation: joined.generationId, member: "i1-old", instance: "i1",
                                [(p0, 1)]) == [.fencedInstanceId])
        #expect(await txnCommit(coordinator, generation: joined.generationId, member: joined.memberId, instance: "i2",
                                [(p0, 1)]) == [.unknownMemberId])
        #expect(await txnCommit(coordinator, generation: joined.generationId, member: joined.memberId, instance: "i1",
                                [(p0, 1)]) == [.none])
    }

    @Test func storeFailuresAndOversizedMetadataAreAnsweredAndNothingIsPending() async throws {
        let fixture = try await GroupFixture.make { $0.offsetMetadataMaxBytes = 4 }
        let coordinator = fixture.coordinator
        let errors = await coordinator.commitTransactionalOffsets(
            groupId: "g", producerId: producerId, producerEpoch: epoch,
            offsets: [OffsetCommitEntry(partition: p0, offset: 1, metadata: "too long"),
                      OffsetCommitEntry(partition: p1, offset: 2, metadata: "ok")])
        #expect(errors == [.offsetMetadataTooLarge, .none])
        #expect(await coordinator.pendingTransactionalOffset(groupId: "g", producerId: producerId, partition: p0) == nil)
        fixture.store.failAppends(with: GroupLogStoreError(.coordinatorNotAvailable, "disk full"))
        #expect(await txnCommit(coordinator, producer: 77, [(p0, 5)]) == [.coordinatorNotAvailable])
        fixture.store.failAppends(with: nil)
        #expect(await coordinator.openTransactionProducers(of: "g") == [producerId])
        #expect(await stableError(coordinator, p0) == ErrorCode.none)
    }

    // MARK: Replay after a restart

    @Test func aRestartRebuildsPendingOffsetsAndAppliesCommitsAndAbortsAsAtRuntime() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        // "open": no marker yet. "committed": marker COMMIT. "aborted": plain commit, then an aborted txn.
        #expect(await txnCommit(coordinator, group: "open", producer: 1, [(p0, 11)]) == [.none])
        #expect(await txnCommit(coordinator, group: "committed", producer: 2, [(p0, 22)]) == [.none])
        await endTransaction(fixture, group: "committed", producer: 2, commit: true)
        #expect(await plainCommit(coordinator, group: "aborted", p0, 30) == [.none])
        #expect(await txnCommit(coordinator, group: "aborted", producer: 3, [(p0, 33)]) == [.none])
        await endTransaction(fixture, group: "aborted", producer: 3, commit: false)

        for compacted in [false, true] {
            if compacted { fixture.store.compact() }
            let restarted = try await restart(fixture.store)
            #expect(await offset(restarted, group: "open", p0) == nil)
            #expect(await stableError(restarted, group: "open", p0) == .unstableOffsetCommit)
            #expect(await restarted.openTransactionProducers(of: "open") == [1])
            #expect(await offset(restarted, group: "committed", p0) == 22)
            #expect(await restarted.openTransactionProducers(of: "committed").isEmpty)
            #expect(await offset(restarted, group: "aborted", p0) == 30)
            #expect(await restarted.openTransactionProducers(of: "aborted").isEmpty)
        }
        // The open transaction's marker arrives after the restart: the restored pending offset commits,
        // and a further restart reads the same outcome from the log.
        let restarted = try await restart(fixture.store)
        let partition = restarted.partition(for: "open")
        fixture.store.appendTransactionMarker(partition: partition, producerId: 1, producerEpoch: epoch, commit: true)
        await restarted.completeTransaction(partition: partition, producerId: 1, producerEpoch: epoch, commit: true)
        #expect(await offset(restarted, group: "open", p0) == 11)
        #expect(await offset(try await restart(fixture.store), group: "open", p0) == 11)
    }

    @Test func theLoadSummaryCountsPendingTransactionalOffsets() async throws {
        let fixture = try await GroupFixture.make()
        #expect(await txnCommit(fixture.coordinator, [(p0, 1), (p1, 2)]) == [.none, .none])
        let restarted = GroupCoordinator(config: fixture.config, store: fixture.store, clock: ManualGroupClock(),
                                         logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let summary = try await restarted.loadAllPartitions()
        #expect(summary.pendingTransactionalOffsets == 2)
        #expect(summary.groups == 1)
        #expect(summary.offsets == 0)
    }

    // MARK: Transactional and plain commits to one partition

    @Test func theCommitWrittenLaterWinsBetweenTransactionalAndPlainCommits() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        // Transactional 10, then plain 20 before the transaction commits: the plain commit was written
        // later, so it stays when the marker arrives.
        #expect(await txnCommit(coordinator, producer: 1, [(p0, 10)]) == [.none])
        #expect(await plainCommit(coordinator, p0, 20) == [.none])
        #expect(await offset(coordinator, p0) == 20)
        await endTransaction(fixture, producer: 1, commit: true)
        #expect(await offset(coordinator, p0) == 20)
        // Plain 40, then transactional 50: the transactional one was written later and wins on commit.
        #expect(await plainCommit(coordinator, p1, 40) == [.none])
        #expect(await txnCommit(coordinator, producer: 2, [(p1, 50)]) == [.none])
        #expect(await offset(coordinator, p1) == 40)
        await endTransaction(fixture, producer: 2, commit: true)
        #expect(await offset(coordinator, p1) == 50)
        // A restart replays the log to the same offsets.
        let restarted = try await restart(fixture.store)
        #expect(await offset(restarted, p0) == 20)
        #expect(await offset(restarted, p1) == 50)
    }

    // MARK: Markers that arrive early

    @Test func aMarkerReportedWhileTheTransactionalAppendIsInFlightAppliesOnceItIsDurable() async throws {
        let store = SlowGroupLogStore()
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.offsetsTopicPartitions = 4
        let coordinator = GroupCoordinator(config: config, store: store, clock: ManualGroupClock(),
                                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await coordinator.loadAllPartitions()
        let p0 = self.p0
        let producerId = self.producerId
        async let committed = coordinator.commitTransactionalOffsets(
            groupId: "g", producerId: producerId, producerEpoch: 0, offsets: [OffsetCommitEntry(partition: p0, offset: 8)])
        #expect(await eventually { store.waiting == 1 })
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0], requireStable: true).partitions.first?.error
                == .unstableOffsetCommit)
        await coordinator.completeTransaction(partition: coordinator.partition(for: "g"), producerId: producerId,
                                              producerEpoch: 0, commit: true)
        store.release()
        #expect(await committed == [.none])
        #expect(await coordinator.fetchOffsets(groupId: "g", partitions: [p0]).partitions.first?.offset?.offset == 8)
        #expect(await coordinator.openTransactionProducers(of: "g").isEmpty)
    }

    @Test func aMarkerReportedWhileThePartitionLoadsAppliesWhenTheLoadFinishes() async throws {
        let gated = GatedLoadStore()
        let first = GroupCoordinator(config: GroupFixture.testConfig, store: gated, clock: ManualGroupClock(),
                                     logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await first.loadAllPartitions()
        #expect(await txnCommit(first, [(p0, 12)]) == [.none])
        let partition = first.partition(for: "g")

        gated.close()
        let second = GroupCoordinator(config: GroupFixture.testConfig, store: gated, clock: ManualGroupClock(),
                                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        async let loaded: Void = second.loadPartition(partition)
        #expect(await eventually { gated.loading })
        // The marker is written after the load read the log: only the deferred report can apply it.
        await second.completeTransaction(partition: partition, producerId: producerId, producerEpoch: epoch, commit: true)
        gated.open()
        try await loaded
        #expect(await offset(second, p0) == 12)
        #expect(await second.openTransactionProducers(of: "g").isEmpty)
    }

    // MARK: Deletion and expiry

    @Test func deletingAGroupWritesTombstonesForPendingOffsetsSoTheyDoNotComeBack() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await plainCommit(coordinator, p1, 4) == [.none])
        #expect(await txnCommit(coordinator, [(p0, 5)]) == [.none])
        #expect(await coordinator.deleteGroups(["g"]) == [.none])
        #expect(await coordinator.state(of: "g") == nil)
        let tombstoned = fixture.store.records(in: coordinator.partition(for: "g")).filter { $0.value == nil }
        #expect(tombstoned.count == 3) // p1, p0 (pending only) and the group metadata
        // The transaction commits after the deletion: nothing comes back, now or after a restart.
        await endTransaction(fixture, commit: true)
        #expect(await coordinator.state(of: "g") == nil)
        let restarted = try await restart(fixture.store)
        #expect(await restarted.state(of: "g") == nil)
        #expect(await offset(restarted, p0) == nil)
    }

    @Test func offsetDeleteRemovesPendingOffsetsOfThePartition() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await txnCommit(coordinator, [(p0, 5), (p1, 6)]) == [.none, .none])
        let deleted = await coordinator.deleteOffsets(groupId: "g", partitions: [p0])
        #expect(deleted.error == .none && deleted.partitions == [.none])
        #expect(await stableError(coordinator, p0) == ErrorCode.none)
        #expect(await stableError(coordinator, p1) == .unstableOffsetCommit)
        await endTransaction(fixture, commit: true)
        #expect(await offset(coordinator, p0) == nil)
        #expect(await offset(coordinator, p1) == 6)
        let restarted = try await restart(fixture.store)
        #expect(await offset(restarted, p0) == nil)
        #expect(await offset(restarted, p1) == 6)
    }

    @Test func expiryKeepsAGroupWithAnOpenTransactionAndTheOffsetsItWillReplace() async throws {
        let fixture = try await GroupFixture.make()
        let coordinator = fixture.coordinator
        #expect(await plainCommit(coordinator, p0, 1) == [.none])
        #expect(await plainCommit(coordinator, p1, 1) == [.none])
        #expect(await txnCommit(coordinator, [(p0, 2)]) == [.none])
        fixture.clock.advance(by: fixture.config.offsetsRetentionMs + 1)
        await coordinator.expireOffsets()
        // p1 expired; p0 has a pending transactional offset and the group has an open transaction.
        #expect(await offset(coordinator, p1) == nil)
        #expect(await offset(coordinator, p0) == 1)
        #expect(await coordinator.state(of: "g") == .empty)
        await endTransaction(fixture, commit: false)
        await coordinator.expireOffsets()
        #expect(await coordinator.state(of: "g") == nil)
    }

    // MARK: Request layer

    private func txnRequest(group: String = "g", producer: Int64 = 4000, epoch: Int16 = 2,
                            partitions: [Int32] = [0, 1], extraTopic: String? = "nope") -> TxnOffsetCommitRequest {
        var request = TxnOffsetCommitRequest()
        request.transactionalId = "tx-1"
        request.groupId = group
        request.producerId = producer
        request.producerEpoch = epoch
        var topic = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic()
        topic.name = "orders"
        topic.partitions = partitions.map { index in
            var partition = TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition()
            partition.partitionIndex = index
            partition.committedOffset = 100 + Int64(index)
            partition.committedLeaderEpoch = 7
            partition.committedMetadata = "m"
            return partition
        }
        request.topics = [topic]
        if let extraTopic {
            var unknown = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic()
            unknown.name = extraTopic
            unknown.partitions = [TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition()]
            request.topics.append(unknown)
        }
        return request
    }

    private func codes(_ response: TxnOffsetCommitResponse) -> [[Int16]] {
        response.topics.map { $0.partitions.map(\.errorCode) }
    }

    @Test(arguments: Int16(0)...5)
    func txnOffsetCommitWorksInEveryVersion(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let requests = fixture.requests
        var request = txnRequest(partitions: [0, 1, 9])
        if version >= 3 {
            // A v3+ request names no member: accepted for the empty group.
            request.generationId = -1
        }
        let response = try roundTrip(await requests.txnOffsetCommit(request, version: version), version: version)
        #expect(response.topics.map(\.name) == ["orders", "nope"])
        #expect(codes(response) == [[0, 0, ErrorCode.unknownTopicOrPartition.rawValue],
                                    [ErrorCode.unknownTopicOrPartition.rawValue]])
        #expect(await offset(fixture.coordinator, p0) == nil)
        await fixture.coordinator.completeTransaction(partition: fixture.coordinator.partition(for: "g"),
                                                      producerId: 4000, producerEpoch: 2, commit: true)
        let fetched = await fixture.coordinator.fetchOffsets(groupId: "g", partitions: [p0, p1])
        #expect(fetched.partitions.map { $0.offset?.offset } == [100, 101])
        #expect(fetched.partitions[0].offset?.leaderEpoch == (version >= 2 ? 7 : -1))
        #expect(fetched.partitions[0].offset?.metadata == "m")
    }

    @Test(arguments: Int16(3)...5)
    func txnOffsetCommitV3ChecksGenerationAndMember(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        let memberId = await stableSingleMemberGroup(fixture.coordinator)
        var request = txnRequest(extraTopic: nil)
        request.generationId = 1
        request.memberId = "ghost"
        #expect(codes(try roundTrip(await fixture.requests.txnOffsetCommit(request, version: version), version: version))
                == [[ErrorCode.unknownMemberId.rawValue, ErrorCode.unknownMemberId.rawValue]])
        request.memberId = memberId
        request.generationId = 5
        #expect(codes(try roundTrip(await fixture.requests.txnOffsetCommit(request, version: version), version: version))
                == [[ErrorCode.illegalGeneration.rawValue, ErrorCode.illegalGeneration.rawValue]])
        request.generationId = 1
        #expect(codes(try roundTrip(await fixture.requests.txnOffsetCommit(request, version: version), version: version))
                == [[0, 0]])
    }

    @Test func txnOffsetCommitBeforeV3IgnoresMemberFields() async throws {
        let fixture = try await GroupFixture.make()
        _ = await stableSingleMemberGroup(fixture.coordinator)
        var request = txnRequest(extraTopic: nil)
        request.generationId = 99
        request.memberId = "ghost"
        // v2 cannot carry these fields: the commit is anonymous and accepted.
        #expect(codes(await fixture.requests.txnOffsetCommit(request, version: 2)) == [[0, 0]])
        // v3 carries them: the unknown member is refused (the member is checked before the generation).
        #expect(codes(await fixture.requests.txnOffsetCommit(request, version: 3))
                == [[ErrorCode.unknownMemberId.rawValue, ErrorCode.unknownMemberId.rawValue]])
    }

    @Test func theVerifiersErrorIsEveryPartitionsAnswerAndNothingIsWritten() async throws {
        let fixture = try await GroupFixture.make()
        let requests = fixture.requests
        let copy = requests
        let verifier = RecordingVerifier(answer: .invalidTxnState)
        // Set on one copy, seen by every copy (the broker sets it after handing GroupRequests out).
        requests.transactionVerifier = verifier
        let response = await copy.txnOffsetCommit(txnRequest(), version: 4)
        #expect(codes(response) == [[ErrorCode.invalidTxnState.rawValue, ErrorCode.invalidTxnState.rawValue],
                                    [ErrorCode.unknownTopicOrPartition.rawValue]])
        #expect(verifier.calls == ["tx-1/4000/2/g"])
        #expect(fixture.store.appendCount == 0)
        #expect(await fixture.coordinator.state(of: "g") == nil)
        // Nothing to commit (only unknown partitions): the verifier is not asked.
        _ = await copy.txnOffsetCommit(txnRequest(partitions: [9]), version: 4)
        #expect(verifier.calls.count == 1)
        // Accepted: the commit goes ahead.
        requests.transactionVerifier = RecordingVerifier(answer: .none)
        #expect(codes(await copy.txnOffsetCommit(txnRequest(extraTopic: nil), version: 4)) == [[0, 0]])
        #expect(fixture.store.transactionalAppendCount == 1)
    }

    @Test(arguments: [
        (ErrorCode.producerFenced, Int16(4), ErrorCode.invalidProducerEpoch),
        (.invalidProducerEpoch, 5, .invalidProducerEpoch),
        (.transactionAbortable, 3, .invalidTxnState),
        (.transactionAbortable, 4, .transactionAbortable),
        (.networkException, 3, .coordinatorLoadInProgress),
        (.coordinatorLoadInProgress, 1, .coordinatorNotAvailable),
        (.coordinatorLoadInProgress, 2, .coordinatorLoadInProgress),
        (.notCoordinator, 0, .notCoordinator),
    ])
    func verificationErrorsAreTranslatedAsKafkaDoes(verdict: ErrorCode, version: Int16, answer: ErrorCode) async throws {
        let fixture = try await GroupFixture.make()
        let requests = fixture.requests
        requests.transactionVerifier = RecordingVerifier(answer: verdict)
        let response = try roundTrip(await requests.txnOffsetCommit(txnRequest(extraTopic: nil), version: version),
                                     version: version)
        #expect(codes(response) == [[answer.rawValue, answer.rawValue]])
    }

    @Test func aCommitWithoutAProducerIdOrEpochIsRefused() async throws {
        let fixture = try await GroupFixture.make()
        #expect(codes(await fixture.requests.txnOffsetCommit(txnRequest(producer: -1, extraTopic: nil), version: 3))
                == [[ErrorCode.invalidProducerIdMapping.rawValue, ErrorCode.invalidProducerIdMapping.rawValue]])
        #expect(codes(await fixture.requests.txnOffsetCommit(txnRequest(epoch: -1, extraTopic: nil), version: 3))
                == [[ErrorCode.invalidProducerEpoch.rawValue, ErrorCode.invalidProducerEpoch.rawValue]])
        #expect(codes(await fixture.requests.txnOffsetCommit(txnRequest(group: "", extraTopic: nil), version: 3))
                == [[ErrorCode.invalidGroupId.rawValue, ErrorCode.invalidGroupId.rawValue]])
        #expect(fixture.store.appendCount == 0)
    }

    @Test(arguments: Int16(7)...10)
    func offsetFetchWithRequireStableReportsPendingPartitionsPerPartition(version: Int16) async throws {
        let fixture = try await GroupFixture.make()
        #expect(await plainCommit(fixture.coordinator, p1, 41) == [.none])
        #expect(await txnCommit(fixture.coordinator, [(p0, 5), (p1, 42)]) == [.none, .none])
        #expect(await plainCommit(fixture.coordinator, TopicPartition(topic: "orders", partition: 2), 3) == [.none])
        for requireStable in [true, false] {
            var fetch = OffsetFetchRequest()
            fetch.requireStable = requireStable
            let partitions: [OffsetFetchResponse.OffsetFetchResponsePartitions]
            let topLevel: Int16
            if version >= 8 {
                var group = OffsetFetchRequest.OffsetFetchRequestGroup()
                group.groupId = "g"
                var wanted = OffsetFetchRequest.OffsetFetchRequestTopics()
                if version >= 10 { wanted.topicId = FixedTopicCatalog.ordersId } else { wanted.name = "orders" }
                wanted.partitionIndexes = [0, 1, 2]
                group.topics = [wanted]
                fetch.groups = [group]
                let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: version), version: version)
                topLevel = fetched.groups.first?.errorCode ?? -1
                partitions = fetched.groups.first?.topics.first?.partitions ?? []
            } else {
                fetch.groupId = "g"
                var wanted = OffsetFetchRequest.OffsetFetchRequestTopic()
                wanted.name = "orders"
                wanted.partitionIndexes = [0, 1, 2]
                fetch.topics = [wanted]
                let fetched = try roundTrip(await fixture.requests.offsetFetch(fetch, version: version), version: version)
                topLevel = fetched.errorCode
                partitions = fetched.topics.first?.partitions.map { partition in
                    var copy = OffsetFetchResponse.OffsetFetchResponsePartitions()
                    copy.errorCode = partition.errorCode
                    copy.committedOffset = partition.committedOffset
                    return copy
                } ?? []
            }
            // Kafka answers UNSTABLE_OFFSET_COMMIT per partition; the group-level error stays NONE.
            #expect(topLevel == 0)
            let unstable = ErrorCode.unstableOffsetCommit.rawValue
            #expect(partitions.map(\.errorCode) == (requireStable ? [unstable, unstable, 0] : [0, 0, 0]))
            #expect(partitions.map(\.committedOffset) == (requireStable ? [-1, -1, 3] : [-1, 41, 3]))
        }
    }

    // MARK: Batches and markers in `__consumer_offsets`

    @Test func transactionalBatchesAndMarkersReadBackAsEntries() throws {
        let record = GroupLogRecord(key: ByteBuffer(string: "k"), value: ByteBuffer(string: "v"))
        let producer = GroupLogProducer(producerId: 55, producerEpoch: 3)
        var bytes = try GroupLogBatches.batch([record, record], timestampMs: 1000, producer: producer)
        let header = try RecordBatch(bytes).header
        #expect(header.isTransactional && !header.isControl)
        #expect(header.producerId == 55 && header.producerEpoch == 3 && header.baseSequence == 0)
        bytes.writeImmutableBuffer(try GroupLogBatches.batch([record], timestampMs: 1000))
        bytes.writeImmutableBuffer(RecordBatchBuilder.endTransactionMarker(
            EndTransactionMarker(type: .abort, coordinatorEpoch: 1), producerId: 55, producerEpoch: 3, timestamp: 1001))
        bytes.writeImmutableBuffer(RecordBatchBuilder.endTransactionMarker(
            EndTransactionMarker(type: .commit, coordinatorEpoch: 1), producerId: 56, producerEpoch: 0, timestamp: 1002))
        #expect(GroupLogBatches.entries(from: bytes) == [
            .record(record, producerId: 55), .record(record, producerId: 55), .record(record, producerId: nil),
            .transactionMarker(producerId: 55, producerEpoch: 3, commit: false),
            .transactionMarker(producerId: 56, producerEpoch: 0, commit: true),
        ])
        #expect(GroupLogBatches.records(from: bytes) == [record, record, record])
        let plain = try RecordBatch(GroupLogBatches.batch([record], timestampMs: 1000)).header
        #expect(!plain.isTransactional && plain.producerId == -1 && plain.baseSequence == -1)
    }

    @Test func compactionDropsAbortedRecordsAndStopsAtAnOpenTransaction() async throws {
        let store = InMemoryGroupLogStore()
        func record(_ key: String, _ value: String?) -> GroupLogRecord {
            GroupLogRecord(key: ByteBuffer(string: key), value: value.map { ByteBuffer(string: $0) })
        }
        func append(_ key: String, _ value: String?, producer: Int64? = nil) async throws {
            try await store.append(partition: 0, records: [record(key, value)],
                                   producer: producer.map { GroupLogProducer(producerId: $0, producerEpoch: 0) })
        }
        try await append("a", "1")
        try await append("a", "2", producer: 9)  // aborted below
        store.appendTransactionMarker(partition: 0, producerId: 9, producerEpoch: 0, commit: false)
        try await append("b", "1")
        try await append("b", "2")
        try await append("c", "1", producer: 8)  // still open: compaction stops here
        try await append("b", "3")
        store.compact()
        #expect(store.entries(in: 0) == [
            .record(record("a", "1"), producerId: nil),
            .transactionMarker(producerId: 9, producerEpoch: 0, commit: false),
            .record(record("b", "2"), producerId: nil),
            .record(record("c", "1"), producerId: 8),
            .record(record("b", "3"), producerId: nil),
        ])
    }
}

extension GroupFixture {
    /// The configuration `make` uses (short timeouts, 4 offsets partitions).
    static var testConfig: GroupCoordinatorConfig {
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.minSessionTimeoutMs = 10
        config.maxSessionTimeoutMs = 60_000
        config.initialRebalanceDelayMs = 0
        config.offsetsTopicPartitions = 4
        config.newMemberJoinTimeoutMs = 300_000
        return config
    }
}
