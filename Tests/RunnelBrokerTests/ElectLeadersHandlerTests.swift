// ElectLeaders on a single node (local metadata store): Kafka's per-partition errors, the "every
// partition" form leaving out partitions that need nothing, an unknown election type.
import Foundation
import KafkaProtocol
import Logging
import NIOPosix
import Testing
@testable import RunnelBroker

@Suite struct ElectLeadersHandlerTests {
    final class Harness: OfflineBroker {
        init() throws { try super.init(prefix: "runnel-elect-") }

        func elect(_ type: Int8, _ partitions: [String: [Int32]]?, version: Int16 = 2) async -> ElectLeadersResponse {
            var request = ElectLeadersRequest()
            request.electionType = type
            request.topicPartitions = partitions?.sorted { $0.key < $1.key }.map { topic, indexes in
                var entry = ElectLeadersRequest.TopicPartitions()
                entry.topic = topic
                entry.partitions = indexes
                return entry
            }
            return await broker.core.electLeaders(request, self.request(43, version: version))
        }
    }

    func codes(_ response: ElectLeadersResponse) -> [String: [Int16]] {
        Dictionary(uniqueKeysWithValues: response.replicaElectionResults.map { ($0.topic, $0.partitionResult.map(\.errorCode)) })
    }

    @Test("a single node's partitions already have their preferred leader: ELECTION_NOT_NEEDED; unknown partitions: UNKNOWN_TOPIC_OR_PARTITION")
    func perPartitionErrors() async throws {
        let harness = try Harness()
        _ = try await harness.broker.core.createTopic(name: "orders", partitions: 2, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        for type: Int8 in [0, 1] {
            let response = await harness.elect(type, ["orders": [0, 1, 7], "missing": [0]])
            #expect(response.errorCode == 0)
            #expect(codes(response) == ["orders": [84, 84, 3], "missing": [3]])
        }
        let v0 = await harness.elect(0, ["orders": [1]], version: 0)
        #expect(codes(v0) == ["orders": [84]])
    }

    @Test("every partition (null list): partitions that need no election are left out")
    func everyPartition() async throws {
        let harness = try Harness()
        _ = try await harness.broker.core.createTopic(name: "orders", partitions: 3, replicationFactor: 1, configs: [:],
                                                      logger: Logger(label: "test"))
        let response = await harness.elect(0, nil)
        #expect(response.errorCode == 0)
        #expect(response.replicaElectionResults.contains { $0.topic == "orders" })
        #expect(response.replicaElectionResults.allSatisfy { $0.partitionResult.isEmpty })
    }

    @Test("an unknown election type is INVALID_REQUEST for the request and every partition")
    func unknownType() async throws {
        let harness = try Harness()
        let response = await harness.elect(5, ["orders": [0]])
        #expect(response.errorCode == ErrorCode.invalidRequest.rawValue)
        #expect(codes(response) == ["orders": [ErrorCode.invalidRequest.rawValue]])
    }
}
