// Produce v13 and Fetch v13+ address topics by id: the client takes ids from Metadata, uses the newest
// version both sides speak, and falls back to v12 (names) when the broker reports no ids or is older.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelClient

@Suite struct TopicIdTests {
    private func roundTrip(_ broker: MiniBroker, count: Int = 20) async throws -> [String] {
        var configuration = ClientConfiguration(bootstrapServers: [broker.address])
        configuration.retryBackoff = .milliseconds(10)
        let client = KafkaClient(configuration: configuration)
        let producer = try KafkaProducer(client: client)
        for index in 0..<count {
            _ = try await producer.send(ProducerRecord(topic: "t", key: "k\(index)", value: "v\(index)"))
        }
        var consumerConfiguration = ConsumerConfiguration()
        consumerConfiguration.fetchMaxWaitMilliseconds = 10
        let consumer = KafkaConsumer(client: client, configuration: consumerConfiguration)
        try await consumer.assign(topic: "t", from: .beginning)
        var values: [String] = []
        for _ in 0..<50 where values.count < count {
            values += try await consumer.poll().map { String(buffer: $0.value ?? ByteBuffer()) }
        }
        await client.close()
        return values.sorted()
    }

    @Test func producesAndFetchesByTopicIdWhenBothSidesSpeakV13() async throws {
        let broker = try await MiniBroker(topics: ["t": 3], topicIds: true, dataVersion: 13)
        let values = try await roundTrip(broker)
        #expect(values == (0..<20).map { "v\($0)" }.sorted())
        let (produce, fetch) = broker.state.withLock { ($0.produceVersions, $0.fetchVersions) }
        #expect(!produce.isEmpty && produce.allSatisfy { $0 == 13 })
        #expect(!fetch.isEmpty && fetch.allSatisfy { $0 == 13 })
        await broker.stop()
    }

    @Test func fallsBackToV12WhenMetadataHasNoTopicIds() async throws {
        let broker = try await MiniBroker(topics: ["t": 2], topicIds: false, dataVersion: 13)
        let values = try await roundTrip(broker, count: 6)
        #expect(values.count == 6)
        let (produce, fetch) = broker.state.withLock { ($0.produceVersions, $0.fetchVersions) }
        #expect(produce.allSatisfy { $0 == 12 } && fetch.allSatisfy { $0 == 12 })
        await broker.stop()
    }

    @Test func olderBrokersGetTheirHighestVersion() async throws {
        let broker = try await MiniBroker(topics: ["t": 1], topicIds: true, dataVersion: 9)
        let values = try await roundTrip(broker, count: 3)
        #expect(values.count == 3)
        let (produce, fetch) = broker.state.withLock { ($0.produceVersions, $0.fetchVersions) }
        #expect(produce.allSatisfy { $0 == 9 } && fetch.allSatisfy { $0 == 9 })
        await broker.stop()
    }

    @Test func negotiationPicksTheLowerOfBothMaximaAndHonoursACap() {
        let table = ApiVersionTable(ranges: [ApiKey.fetch.rawValue: 4...18, ApiKey.produce.rawValue: 3...11])
        #expect(table.negotiatedVersion(for: .fetch) == 18)
        #expect(table.negotiatedVersion(for: .fetch, atMost: 12) == 12)
        #expect(table.negotiatedVersion(for: .produce) == 11)
        #expect(table.negotiatedVersion(for: .produce, atMost: 2) == nil)
    }
}
