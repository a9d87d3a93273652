// ConsumerOffsetsLog with transactions: a TxnOffsetCommit is stored as the producer's transactional batch,
// loading reports data records with their producer and the COMMIT/ABORT markers in log order, and a
// coordinator restarted over the real log replays them to the offsets the live one served.
import Foundation
import KafkaProtocol
import KafkaRecords
import Logging
import NIOCore
import NIOPosix
import RunnelGroups
import RunnelStorage
import RunnelTransactions
import Testing
@testable import RunnelBroker

@Suite struct ConsumerOffsetsLogTransactionTests {
    /// A broker (storage open, not listening) with a 2-partition `__consumer_offsets` and topic "orders".
    final class Harness {
        let directory = NSTemporaryDirectory() + "runnel-offsets-txn-" + UUID().uuidString
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let broker: Broker
        let config: BrokerConfig

        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var config = BrokerConfig()
            try config.set("log.dirs", to: directory)
            try config.set("offsets.topic.num.partitions", to: "2")
            try config.set("transaction.state.log.num.partitions", to: "2")
            self.config = config
            broker = try Broker(config: config, group: group, logger: Logger(label: "test"))
        }

        deinit {
            tearDownOffThePool(broker.logManager, group, removing: directory)
        }

        func start() async throws {
            _ = try await broker.core.startGroupCoordinator(partitions: 2, segmentBytes: 1 << 20)
            _ = try await broker.core.startTransactionCoordinator(partitions: 2, segmentBytes: 1 << 20)
            _ = try await broker.core.createTopic(name: "orders", partitions: 1, replicationFactor: 1, configs: [:],
                                             logger: Logger(label: "test"))
        }

        var log: ConsumerOffsetsLog { ConsumerOffsetsLog(replicas: broker.core.replicas) }

        /// Opens a real transaction holding `group`'s offsets partition (InitProducerId + AddOffsetsToTxn):
        /// transactional offset commits are accepted only inside one (KIP-890 part 1).
        func openTransaction(_ transactionalId: String, group: String) async throws -> ProducerIdAndEpoch {
            let transactions = broker.core.transactionCoordinator
            let producer = try await transactions.initProducerId(transactionalId: transactionalId, timeoutMs: 60_000,
                                                                 expected: nil).get()
            let added = await transactions.addOffsets(transactionalId: transactionalId, producerId: producer.producerId,
                                                      producerEpoch: producer.epoch, groupId: group)
            #expect(added == .none)
            return producer
        }

        /// What the group request layer's verifier does before a transactional write to `partition`.
        func markVerified(partition index: Int32, producerId: Int64, producerEpoch: Int16) throws {
            let partition = try #require(broker.core.replicas.partition(topic: ConsumerOffsetsLog.topic, index: index))
            let token = try #require(partition.log.beginTransactionVerification(producerId: producerId, epoch: producerEpoch))
            #expect(partition.log.completeTransactionVerification(producerId: producerId, token: token))
        }

        /// Appends a COMMIT/ABORT marker to the offsets partition as the transaction coordinator would.
        func writeMarker(partition index: Int32, producerId: Int64, producerEpoch: Int16, commit: Bool) async throws {
            let partition = try #require(broker.core.replicas.partition(topic: ConsumerOffsetsLog.topic, index: index))
            let marker = RecordBatchBuilder.endTransactionMarker(
                EndTransactionMarker(type: commit ? .commit : .abort, coordinatorEpoch: 0), producerId: producerId,
                producerEpoch: producerEpoch, timestamp: Partition.nowMs())
            let result: Result<AppendResult, StorageError> = await withCheckedContinuation { continuation in
                partition.log.append(records: marker, leaderEpoch: partition.leaderEpoch, origin: .coordinator) {
                    continuation.resume(returning: $0)
                }
            }
            _ = try result.get()
        }

        /// Every batch header of the offsets partition.
        func headers(partition index: Int32) throws -> [RecordBatchHeader] {
            let partition = try #require(broker.core.replicas.partition(topic: ConsumerOffsetsLog.topic, index: index))
            let read = try partition.log.read(from: 0, maxBytes: 1 << 20, isolation: .logEnd, minOneBatch: true)
            return try MemoryRecords(try read.readBytes()).batches().map(\.header)
        }
    }

    private func record(_ key: String) -> GroupLogRecord {
        GroupLogRecord(key: ByteBuffer(string: key), value: ByteBuffer(string: "v-\(key)"))
    }

    @Test func transactionalBatchesAndMarkersLoadBackInLogOrder() async throws {
        let harness = try Harness()
        try await harness.start()
        let log = harness.log
        try await log.append(partition: 1, records: [record("plain")], producer: nil)
        // Without the coordinator's verification the partition refuses a transactional batch.
        await #expect(throws: GroupLogStoreError.self) {
            try await log.append(partition: 1, records: [record("t0")], producer: GroupLogProducer(producerId: 7, producerEpoch: 1))
        }
        try harness.markVerified(partition: 1, producerId: 7, producerEpoch: 1)
        try harness.markVerified(partition: 1, producerId: 8, producerEpoch: 0)
        try await log.append(partition: 1, records: [record("t1"), record("t2")],
                             producer: GroupLogProducer(producerId: 7, producerEpoch: 1))
        try await harness.writeMarker(partition: 1, producerId: 7, producerEpoch: 1, commit: true)
        try await log.append(partition: 1, records: [record("t3")], producer: GroupLogProducer(producerId: 8, producerEpoch: 0))
        try await harness.writeMarker(partition: 1, producerId: 8, producerEpoch: 0, commit: false)

        let headers = try harness.headers(partition: 1)
        #expect(headers.map(\.isTransactional) == [false, true, true, true, true])
        #expect(headers.map(\.isControl) == [false, false, true, false, true])
        #expect(headers.map(\.producerId) == [-1, 7, 7, 8, 8])
        #expect(try await log.load(partition: 1) == [
            .record(record("plain"), producerId: nil),
            .record(record("t1"), producerId: 7), .record(record("t2"), producerId: 7),
            .transactionMarker(producerId: 7, producerEpoch: 1, commit: true),
            .record(record("t3"), producerId: 8),
            .transactionMarker(producerId: 8, producerEpoch: 0, commit: false),
        ])
    }

    @Test func aTxnOffsetCommitIsPendingUntilItsMarkerAndReplaysTheSameAfterARestart() async throws {
        let harness = try Harness()
        try await harness.start()
        let requests = harness.broker.core.groupRequests
        let coordinator = harness.broker.core.groupCoordinator
        let orders0 = TopicPartition(topic: "orders", partition: 0)
        var producers: [String: ProducerIdAndEpoch] = [:]
        for group in ["committed", "aborted", "open"] {
            producers[group] = try await harness.openTransaction("tx-\(group)", group: group)
        }
        func commit(group: String, offset: Int64) async -> [Int16] {
            var request = TxnOffsetCommitRequest()
            request.transactionalId = "tx-\(group)"
            request.groupId = group
            request.producerId = producers[group]?.producerId ?? -1
            request.producerEpoch = producers[group]?.epoch ?? -1
            var topic = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic()
            topic.name = "orders"
            var partition = TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition()
            partition.committedOffset = offset
            topic.partitions = [partition]
            request.topics = [topic]
            return await requests.txnOffsetCommit(request, version: 5).topics.flatMap { $0.partitions.map(\.errorCode) }
        }
        #expect(await commit(group: "committed", offset: 10) == [0])
        #expect(await commit(group: "aborted", offset: 20) == [0])
        #expect(await commit(group: "open", offset: 30) == [0])
        #expect(await coordinator.fetchOffsets(groupId: "committed", partitions: [orders0]).partitions.first?.offset == nil)
        for (group, outcome) in [("committed", true), ("aborted", false)] {
            let producerId = try #require(producers[group]?.producerId)
            let partition = coordinator.partition(for: group)
            try await harness.writeMarker(partition: partition, producerId: producerId, producerEpoch: 0, commit: outcome)
            await coordinator.completeTransaction(partition: partition, producerId: producerId, producerEpoch: 0,
                                                  commit: outcome)
        }
        func offsets(_ coordinator: GroupCoordinator) async -> [Int64?] {
            var result: [Int64?] = []
            for group in ["committed", "aborted", "open"] {
                result.append(await coordinator.fetchOffsets(groupId: group, partitions: [orders0]).partitions.first?.offset?.offset)
            }
            return result
        }
        #expect(await offsets(coordinator) == [10, nil, nil])
        #expect(await coordinator.fetchOffsets(groupId: "open", partitions: [orders0], requireStable: true)
                .partitions.first?.error == .unstableOffsetCommit)

        let restarted = GroupCoordinator(config: GroupCoordinatorConfig(harness.config), store: harness.log,
                                         logger: Logger(label: "test"))
        let summary = try await restarted.loadAllPartitions()
        #expect(summary.pendingTransactionalOffsets == 1)
        #expect(await offsets(restarted) == [10, nil, nil])
        #expect(await restarted.openTransactionProducers(of: "open") == [try #require(producers["open"]?.producerId)])
    }

    @Test(arguments: [Int16(0), 3, 5])
    func theRouterServesTxnOffsetCommit(version: Int16) async throws {
        let harness = try Harness()
        try await harness.start()
        var request = TxnOffsetCommitRequest()
        let producer = try await harness.openTransaction("tx", group: "g")
        request.transactionalId = "tx"
        request.groupId = "g"
        request.producerId = producer.producerId
        request.producerEpoch = producer.epoch
        var topic = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic()
        topic.name = "orders"
        var known = TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition()
        known.committedOffset = 5
        var unknown = known
        unknown.partitionIndex = 3
        topic.partitions = [known, unknown]
        request.topics = [topic]
        var frame = ByteBuffer()
        RequestHeader(apiKey: ApiKey.txnOffsetCommit.rawValue, apiVersion: version, correlationId: 9, clientId: "c")
            .encode(to: &frame)
        try request.encode(to: &frame, version: version)
        let context = RequestContext(eventLoop: harness.group.next(), clientAddress: nil, localAddress: nil,
                                     connectionId: "test", listenerName: "PLAINTEXT", logger: Logger(label: "test"))
        let payload = try await harness.broker.router.route(
            KafkaRequestFrame(apiKey: ApiKey.txnOffsetCommit.rawValue, apiVersion: version, correlationId: 9, buffer: frame),
            context: context).get()
        guard case .parts(let parts) = payload, case .buffer(var bytes)? = parts.first else {
            Issue.record("expected one response buffer")
            return
        }
        let header = try ResponseHeader(from: &bytes, headerVersion: ResponseHeader.headerVersion(
            apiKey: ApiKey.txnOffsetCommit.rawValue, apiVersion: version))
        #expect(header.correlationId == 9)
        let response = try TxnOffsetCommitResponse(from: &bytes, version: version)
        #expect(response.topics.first?.partitions.map(\.errorCode) == [0, ErrorCode.unknownTopicOrPartition.rawValue])
        let orders0 = TopicPartition(topic: "orders", partition: 0)
        #expect(await harness.broker.core.groupCoordinator.pendingTransactionalOffset(
            groupId: "g", producerId: producer.producerId, partition: orders0)?.offset == 5)
    }
}
