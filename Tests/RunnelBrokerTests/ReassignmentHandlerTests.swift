// AlterPartitionReassignments, ListPartitionReassignments and DescribeLogDirs on a single node (local
// metadata store): Kafka's per-partition errors, a no-op move to the same replica, and the log dir with
// its partitions and sizes.
import Foundation
import KafkaProtocol
import Logging
import NIOPosix
import Testing
@testable import RunnelBroker

@Suite struct ReassignmentHandlerTests {
    final class Harness: OfflineBroker {
        init() throws { try super.init(prefix: "runnel-reassign-") }

        func alter(_ moves: [(String, Int32, [Int32]?)], version: Int16 = 1,
                   allowRFChange: Bool = true) async -> [String: [Int16]] {
            var request = AlterPartitionReassignmentsRequest()
            request.allowReplicationFactorChange = allowRFChange
            request.topics = Dictionary(grouping: moves, by: \.0).sorted { $0.key < $1.key }.map { topic, entries in
                var t = AlterPartitionReassignmentsRequest.ReassignableTopic()
                t.name = topic
                t.partitions = entries.map {
                    var p = AlterPartitionReassignmentsRequest.ReassignablePartition()
                    p.partitionIndex = $0.1
                    p.replicas = $0.2
                    return p
                }
                return t
            }
            let response = await broker.core.alterPartitionReassignments(request, self.request(45, version: version))
            return Dictionary(uniqueKeysWithValues: response.responses.map { ($0.name, $0.partitions.map(\.errorCode)) })
        }

        func now<R>(_ result: HandlerResult<R>) -> R? {
            guard case .now(let response) = result else { return nil }
            return response
        }
    }

    @Test("AlterPartitionReassignments: the same replica is accepted (nothing to do); another broker, duplicates, empty: INVALID_REPLICA_ASSIGNMENT; unknown: UNKNOWN_TOPIC_OR_PARTITION; cancel: NO_REASSIGNMENT_IN_PROGRESS; RF change refused when not allowed")
    func alterErrors() async throws {
        let harness = try Harness()
        _ = try await harness.broker.core.createTopic(name: "orders", partitions: 1, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        let node = harness.broker.core.settings.nodeId
        #expect(await harness.alter([("orders", 0, [node])]) == ["orders": [0]])
        let invalid = ErrorCode.invalidReplicaAssignment.rawValue
        #expect(await harness.alter([("orders", 0, [node + 1])]) == ["orders": [invalid]])
        #expect(await harness.alter([("orders", 0, [node, node])]) == ["orders": [invalid]])
        #expect(await harness.alter([("orders", 0, [])]) == ["orders": [invalid]])
        #expect(await harness.alter([("orders", 3, [node]), ("missing", 0, [node])])
                == ["orders": [ErrorCode.unknownTopicOrPartition.rawValue], "missing": [ErrorCode.unknownTopicOrPartition.rawValue]])
        #expect(await harness.alter([("orders", 0, nil)]) == ["orders": [ErrorCode.noReassignmentInProgress.rawValue]])
        #expect(await harness.alter([("orders", 0, [node, node + 1])], allowRFChange: false)
                == ["orders": [ErrorCode.invalidReplicationFactor.rawValue]])
    }

    @Test("ListPartitionReassignments: none in progress on a single node")
    func listNone() async throws {
        let harness = try Harness()
        _ = try await harness.broker.core.createTopic(name: "orders", partitions: 2, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        var request = ListPartitionReassignmentsRequest()
        request.topics = nil
        let all = try #require(harness.now(harness.broker.core.listPartitionReassignments(request, harness.request(46, version: 0))))
        #expect(all.errorCode == 0 && all.topics.isEmpty)
    }

    @Test("DescribeLogDirs: the log dir with every partition and its size, lag 0, not future; total/usable bytes from v4, never cordoned; a topic filter")
    func describeLogDirs() async throws {
        let harness = try Harness()
        _ = try await harness.broker.core.createTopic(name: "orders", partitions: 2, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        _ = try await harness.broker.core.createTopic(name: "audit", partitions: 1, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        var request = DescribeLogDirsRequest()
        request.topics = nil
        let v5 = try #require(harness.now(harness.broker.core.describeLogDirs(request, harness.request(35, version: 5))))
        let dir = try #require(v5.results.first)
        #expect(v5.results.count == 1 && dir.errorCode == 0 && dir.logDir == harness.directory && !dir.isCordoned)
        #expect(dir.totalBytes > 0 && dir.usableBytes >= 0 && dir.usableBytes <= dir.totalBytes)
        let partitions = dir.topics.flatMap { topic in topic.partitions.map { "\(topic.name)-\($0.partitionIndex)" } }
        #expect(partitions.sorted() == ["audit-0", "orders-0", "orders-1"])
        #expect(dir.topics.allSatisfy { $0.partitions.allSatisfy { $0.partitionSize >= 0 && $0.offsetLag == 0 && !$0.isFutureKey } })

        var filtered = DescribeLogDirsRequest()
        var topic = DescribeLogDirsRequest.DescribableLogDirTopic()
        topic.topic = "orders"
        topic.partitions = [1]
        filtered.topics = [topic]
        let v1 = try #require(harness.now(harness.broker.core.describeLogDirs(filtered, harness.request(35, version: 1))))
        let only = try #require(v1.results.first)
        #expect(only.totalBytes == -1)
        #expect(only.topics.map(\.name) == ["orders"] && only.topics.first?.partitions.map(\.partitionIndex) == [1])
    }
}
