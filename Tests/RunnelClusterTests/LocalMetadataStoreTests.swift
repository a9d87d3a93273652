// LocalMetadataStore: existing metadata files keep loading, and the single node is the whole cluster.
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import Testing

@Suite("LocalMetadataStore")
struct LocalMetadataStoreTests {
    @Test("a metadata file written before cluster mode loads unchanged; this node is the only broker, controller and replica")
    func existingFileLoads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runnel-local-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let id = KafkaUUID.random()
        let old = """
        {"cluster_id":"abcdefghijklmnopqrstuv","next_producer_id_block":2000,"node_id":3,"topics":{"orders":{"configs":{"retention.ms":"5"},"internal":false,"name":"orders","partitions":2,"replication_factor":1,"topic_id":"\(id.description)"}},"version":1}
        """
        try Data(old.utf8).write(to: URL(fileURLWithPath: directory + "/runnel-metadata.json"))
        let store = try LocalMetadataStore(directory: directory, nodeId: 3,
                                           registration: BrokerRegistration(nodeId: 3, listeners: [BrokerEndpoint(name: "PLAINTEXT", host: "h", port: 9092)]),
                                           logger: Logger(label: "test"))
        #expect(store.clusterId == "abcdefghijklmnopqrstuv")
        #expect(store.topic(named: "orders")?.topicId == id)
        #expect(store.topic(named: "orders")?.configs == ["retention.ms": "5"])
        #expect(store.partitionState(TopicPartition(topic: "orders", partition: 1))
                == PartitionState(replicas: [3], leader: 3, leaderEpoch: 0, isr: [3], partitionEpoch: 0))
        #expect(store.liveBrokers().map(\.nodeId) == [3] && store.controller?.nodeId == 3 && store.isController)
        let block = try await store.allocateProducerIdBlock()
        #expect(block.firstProducerId == 2000)

        // A write keeps the file in the same format (the same keys; nothing of cluster mode added).
        let updates = store.updates()
        try await store.createTopic(TopicMetadata(name: "more", topicId: .random(), partitionCount: 1, replicationFactor: 1),
                                    assignments: [[3]])
        var iterator = updates.makeAsyncIterator()
        let update = await iterator.next()
        #expect(update?.changes.first.map { if case .topicCreated(let t) = $0 { t.metadata.name == "more" } else { false } } == true)
        let written = try #require(FileManager.default.contents(atPath: directory + "/runnel-metadata.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: written) as? [String: Any])
        #expect(Set(object.keys) == ["cluster_id", "next_producer_id_block", "node_id", "topics", "version"])
        #expect(object["next_producer_id_block"] as? Int == 3000)
        let reopened = try LocalMetadataStore(directory: directory, nodeId: 3, logger: Logger(label: "test"))
        #expect(reopened.topics().map(\.name) == ["more", "orders"])
        #expect(try await reopened.allocateProducerIdBlock().firstProducerId == 3000)

        // Only this node can hold replicas; the partition CAS works as in the cluster store.
        await #expect(throws: MetadataStoreError.self) {
            try await store.createTopic(TopicMetadata(name: "x", topicId: .random(), partitionCount: 1, replicationFactor: 1),
                                        assignments: [[4]])
        }
        let partition = TopicPartition(topic: "orders", partition: 0)
        let altered = try await store.alterPartition(partition, expectedPartitionEpoch: 0,
                                                     to: .initial(replicas: [3]), fencing: .none)
        #expect(altered.partitionEpoch == 1)
        await #expect(throws: MetadataStoreError.self) {
            _ = try await store.alterPartition(partition, expectedPartitionEpoch: 0, to: .initial(replicas: [3]), fencing: .none)
        }
    }
}
