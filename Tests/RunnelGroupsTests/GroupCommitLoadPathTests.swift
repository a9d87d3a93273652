// Tests of the commit and load paths' performance-related contracts: appends reach the store on the
// coordinator's executor (no hop off the actor before the write is queued, and so in the coordinator's
// order), and loading reports what it restored.
import KafkaProtocol
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelGroups

/// A store that records, for each append, the actor it ran on (nil: off any actor) and the offsets it
/// carried, in call order.
final class IsolationRecordingStore: GroupLogStore {
    private let calls = Mutex<[(isolation: ObjectIdentifier?, records: [GroupLogRecord])]>([])

    var isolations: [ObjectIdentifier?] { calls.withLock { $0.map(\.isolation) } }
    var appended: [GroupLogRecord] { calls.withLock { $0.flatMap(\.records) } }

    nonisolated(nonsending) func append(partition: Int32, records: [GroupLogRecord],
                                        producer: GroupLogProducer?) async throws(GroupLogStoreError) {
        let isolation = #isolation
        calls.withLock { $0.append((isolation.map { ObjectIdentifier($0) }, records)) }
        // Suspend, as a real append does while it waits for the fsync, and resume in call order, as the
        // log's completions do (they arrive in log order).
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in continuation.resume() }
    }

    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] { [] }
}

@Suite struct GroupCommitLoadPathTests {
    let p0 = TopicPartition(topic: "orders", partition: 0)

    private func coordinator(store: any GroupLogStore) async throws -> GroupCoordinator {
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.offsetsTopicPartitions = 4
        let coordinator = GroupCoordinator(config: config, store: store, clock: ManualGroupClock(),
                                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await coordinator.loadAllPartitions()
        return coordinator
    }

    @Test func offsetCommitAppendsRunOnTheCoordinatorActorInCommitOrder() async throws {
        let store = IsolationRecordingStore()
        let coordinator = try await coordinator(store: store)
        // Many commits in flight at once; each one's record must be handed to the store from the actor.
        let p0 = self.p0
        await withTaskGroup(of: [ErrorCode].self) { tasks in
            for offset in 0..<50 {
                tasks.addTask {
                    await coordinator.commitOffsets(groupId: "solo", generationId: -1, memberId: "", groupInstanceId: nil,
                                                    offsets: [OffsetCommitEntry(partition: p0, offset: Int64(offset))])
                }
            }
            for await errors in tasks { #expect(errors == [.none]) }
        }
        #expect(store.isolations.count == 50)
        #expect(store.isolations.allSatisfy { $0 == ObjectIdentifier(coordinator) })
        // Records reach the store in the order the actor ran the commits, and the offset it serves is
        // the last one appended: what a reload would restore.
        guard case .offsetCommit(_, let last?)? = try store.appended.last.map(GroupRecordCodec.decode) else {
            Issue.record("no offset commit record appended")
            return
        }
        #expect(await coordinator.fetchOffsets(groupId: "solo", partitions: [p0]).partitions.first?.offset?.offset == last.offset)
    }

    @Test func loadingReportsTheGroupsOffsetsAndRecordsItRestored() async throws {
        let store = InMemoryGroupLogStore()
        let first = try await coordinator(store: store)
        for group in ["a", "b", "c"] {
            for offset in [Int64(1), 2] {
                let errors = await first.commitOffsets(
                    groupId: group, generationId: -1, memberId: "", groupInstanceId: nil,
                    offsets: [OffsetCommitEntry(partition: p0, offset: offset),
                              OffsetCommitEntry(partition: TopicPartition(topic: "orders", partition: 1), offset: offset)])
                #expect(errors == [.none, .none])
            }
        }
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.offsetsTopicPartitions = 4
        let restarted = GroupCoordinator(config: config, store: store, clock: ManualGroupClock(),
                                         logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let summary = try await restarted.loadAllPartitions()
        #expect(summary.partitions == 4)
        #expect(summary.groups == 3)
        #expect(summary.offsets == 6)
        #expect(summary.records == 12)
        #expect(summary.undecodableRecords == 0)
        #expect(await restarted.fetchOffsets(groupId: "b", partitions: [p0]).partitions.first?.offset?.offset == 2)
        // A partition already loaded is not loaded twice.
        #expect(try await restarted.loadPartitionReporting(restarted.partition(for: "a")) == GroupLoadSummary())
    }

    @Test func undecodableRecordsAreCountedAndSkippedOnLoad() async throws {
        let store = InMemoryGroupLogStore()
        let first = try await coordinator(store: store)
        _ = await first.commitOffsets(groupId: "a", generationId: -1, memberId: "", groupInstanceId: nil,
                                      offsets: [OffsetCommitEntry(partition: p0, offset: 7)])
        let partition = first.partition(for: "a")
        try await store.append(partition: partition, records: [GroupLogRecord(key: ByteBuffer(bytes: [0, 1, 0xFF]),
                                                                              value: ByteBuffer(bytes: [1]))],
                               producer: nil)
        var config = GroupCoordinatorConfig.kafkaDefaults
        config.offsetsTopicPartitions = 4
        let restarted = GroupCoordinator(config: config, store: store, clock: ManualGroupClock(),
                                         logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let summary = try await restarted.loadPartitionReporting(partition)
        #expect(summary.records == 2)
        #expect(summary.undecodableRecords == 1)
        #expect(summary.groups == 1)
        #expect(await restarted.fetchOffsets(groupId: "a", partitions: [p0]).partitions.first?.offset?.offset == 7)
    }
}
