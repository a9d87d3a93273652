// The producer and consumer against an in-memory broker: delivery reports, batching, keyed partitioning,
// idempotent sequences, retries after retriable errors, failures after fatal ones, consuming back.
import KafkaProtocol
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelClient

@Suite struct ProducerConsumerTests {
    func client(_ broker: MiniBroker) -> KafkaClient {
        var configuration = ClientConfiguration(bootstrapServers: [broker.address])
        configuration.retryBackoff = .milliseconds(10)
        return KafkaClient(configuration: configuration)
    }

    @Test func sendReportsConsecutiveOffsetsAndRecordsArriveInOrder() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        var offsets: [Int64] = []
        for index in 0..<5 {
            offsets.append(try await producer.send(ProducerRecord(topic: "t", key: "k", value: "v\(index)")).offset)
        }
        #expect(offsets == [0, 1, 2, 3, 4])
        #expect(try broker.records("t", 0).map { String(buffer: $0.value!) } == (0..<5).map { "v\($0)" })
        await client.close()
        await broker.stop()
    }

    @Test func lingerBatchesManyRecordsIntoFewRequestsWithIdempotentSequences() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        let client = client(broker)
        var configuration = ProducerConfiguration()
        // Long enough that a loaded machine's scheduling does not split the batches (flush() sends them).
        configuration.linger = .seconds(5)
        configuration.compression = .zstd
        let producer = try KafkaProducer(client: client, configuration: configuration)
        let delivered = Mutex(0)
        for index in 0..<1000 {
            try await producer.produce(ProducerRecord(topic: "t", key: nil, value: "value-\(index)")) { result in
                if case .success = result { delivered.withLock { $0 += 1 } }
            }
        }
        await producer.flush()
        #expect(delivered.withLock { $0 } == 1000)
        let (requests, sequences) = broker.state.withLock { ($0.produceRequests, $0.sequencesSeen[TopicPartition(topic: "t", partition: 0)] ?? []) }
        #expect(requests < 20)
        #expect(sequences.first == 0)
        let records = try broker.records("t", 0)
        #expect(records.count == 1000)
        #expect(records.map(\.offset) == (0..<1000).map { Int64($0) })
        let batches = broker.state.withLock { $0.partitions["t"]?[0] ?? [] }
        #expect(try batches.allSatisfy { try RecordBatch($0).producerId == 4242 && RecordBatch($0).compression == .zstd })
        await client.close()
        await broker.stop()
    }

    @Test func keyedRecordsGoWhereTheJavaClientPutsThem() async throws {
        let broker = try await MiniBroker(topics: ["t": 6])
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        for key in ["a", "b", "c", "customer-1", "customer-2"] {
            let metadata = try await producer.send(ProducerRecord(topic: "t", key: key, value: "x"))
            #expect(metadata.partition == Murmur2.partition(forKey: ByteBuffer(string: key), partitionCount: 6))
        }
        await client.close()
        await broker.stop()
    }

    @Test func nullKeyRecordsStayOnTheirPartitionAcrossBatchesForTheStickyLinger() async throws {
        for (linger, onePartition) in [(Duration.seconds(60), true), (.zero, false)] {
            let broker = try await MiniBroker(topics: ["t": 6])
            let client = client(broker)
            var configuration = ProducerConfiguration()
            configuration.batchSize = 64  // every record fills its batch
            configuration.stickyPartitioningLinger = linger
            let producer = try KafkaProducer(client: client, configuration: configuration)
            var partitions: Set<Int32> = []
            for index in 0..<12 {
                partitions.insert(try await producer.send(ProducerRecord(topic: "t", key: nil, value: "v\(index)")).partition)
            }
            // Without a sticky linger each closed batch moves on to another partition.
            #expect(onePartition ? partitions.count == 1 : partitions.count > 1, "linger \(linger)")
            await client.close()
            await broker.stop()
        }
    }

    @Test func retriableErrorIsRetriedAndDeliveredOnce() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        broker.state.withLock { $0.produceErrors = [.notLeaderOrFollower, .requestTimedOut] }
        let client = client(broker)
        var configuration = ProducerConfiguration()
        configuration.retryBackoff = .milliseconds(5)
        let producer = try KafkaProducer(client: client, configuration: configuration)
        let metadata = try await producer.send(ProducerRecord(topic: "t", key: nil, value: "once"))
        #expect(metadata.offset == 0)
        #expect(try broker.records("t", 0).count == 1)
        #expect(broker.state.withLock { $0.produceRequests } == 3)
        await client.close()
        await broker.stop()
    }

    @Test func fatalErrorFailsTheRecordWithTheBrokersCode() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        broker.state.withLock { $0.produceErrors = [.messageTooLarge] }
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        await #expect {
            _ = try await producer.send(ProducerRecord(topic: "t", key: nil, value: "big"))
        } throws: { error in
            (error as? KafkaClientError)?.errorCode == .messageTooLarge
        }
        await client.close()
        await broker.stop()
    }

    @Test func batchesAfterAFatallyFailedOneAreResequencedAndDelivered() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        broker.state.withLock { $0.refuseValuesContaining = "TOO-BIG" }
        let client = client(broker)
        var configuration = ProducerConfiguration()
        configuration.linger = .zero
        configuration.retryBackoff = .milliseconds(5)
        configuration.deliveryTimeout = .seconds(10)
        configuration.batchSize = 1  // one record per batch: only the refused record's batch fails
        let producer = try KafkaProducer(client: client, configuration: configuration)
        let results = Mutex<[String: DeliveryResult]>([:])
        for value in ["a", "b", "TOO-BIG", "c", "d"] {
            try await producer.produce(ProducerRecord(topic: "t", key: nil, value: value)) { result in
                results.withLock { $0[value] = result }
            }
        }
        await producer.flush()
        let outcome = results.withLock { $0 }
        #expect((try? outcome["TOO-BIG"]?.get()) == nil)
        let stored = try broker.records("t", 0).map { String(buffer: $0.value!) }
        #expect(stored == ["a", "b", "c", "d"], "outcome: \(outcome)")
        #expect(["a", "b", "c", "d"].compactMap { try? outcome[$0]?.get().offset } == [0, 1, 2, 3])
        let batches = broker.state.withLock { $0.partitions["t"]?[0] ?? [] }
        #expect(try batches.map { try RecordBatch($0).baseSequence } == [0, 1, 2, 3])
        #expect(try batches.allSatisfy { try RecordBatch($0).isCRCValid })
        await client.close()
        await broker.stop()
    }

    @Test func recordLargerThanMaxRequestSizeFailsWithoutBeingSent() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        let client = client(broker)
        var configuration = ProducerConfiguration()
        configuration.maxRequestSize = 1_000
        let producer = try KafkaProducer(client: client, configuration: configuration)
        await #expect {
            _ = try await producer.send(ProducerRecord(topic: "t", value: ByteBuffer(repeating: 1, count: 2_000)))
        } throws: { error in
            (error as? KafkaClientError)?.errorCode == .messageTooLarge
        }
        #expect(try await producer.send(ProducerRecord(topic: "t", key: nil, value: "small")).offset == 0)
        #expect(broker.state.withLock { $0.produceRequests } == 1)
        await client.close()
        await broker.stop()
    }

    @Test func unknownTopicFailsAtOnce() async throws {
        let broker = try await MiniBroker(topics: ["t": 1])
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        await #expect(throws: KafkaClientError.self) {
            try await producer.produce(ProducerRecord(topic: "nope", key: nil, value: "x")) { _ in }
        }
        await client.close()
        await broker.stop()
    }

    @Test func consumerReadsFromBeginningOffsetAndEndAndKnowsWhenItIsAtTheEnd() async throws {
        let broker = try await MiniBroker(topics: ["t": 2])
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        for index in 0..<10 {
            _ = try await producer.send(ProducerRecord(topic: "t", partition: Int32(index % 2), key: nil, value: "v\(index)"))
        }
        var configuration = ConsumerConfiguration()
        configuration.fetchMaxWaitMilliseconds = 10
        let consumer = KafkaConsumer(client: client, configuration: configuration)
        try await consumer.assign(topic: "t", from: .beginning)
        var values: [String] = []
        var polls = 0
        while try await !consumer.reachedEnd(), polls < 50 {
            values += try await consumer.poll().map { String(buffer: $0.value!) }
            polls += 1
        }
        #expect(values.sorted() == (0..<10).map { "v\($0)" }.sorted())

        let tail = KafkaConsumer(client: client, configuration: configuration)
        try await tail.assign(topic: "t", partitions: [1], from: .fromEnd(2))
        let last = try await tail.poll().map { String(buffer: $0.value!) }
        #expect(last == ["v7", "v9"])

        await tail.seek(TopicPartition(topic: "t", partition: 1), to: .offset(4))
        #expect(try await tail.poll().map(\.offset) == [4])
        await client.close()
        await broker.stop()
    }

    @Test func groupConsumerJoinsGetsEveryPartitionCommitsAndResumes() async throws {
        let broker = try await MiniBroker(topics: ["t": 3])
        let client = client(broker)
        let producer = try KafkaProducer(client: client)
        for index in 0..<9 {
            _ = try await producer.send(ProducerRecord(topic: "t", partition: Int32(index % 3), key: nil, value: "v\(index)"))
        }
        var configuration = ConsumerConfiguration()
        configuration.groupId = "g"
        configuration.fetchMaxWaitMilliseconds = 10
        let consumer = KafkaConsumer(client: client, configuration: configuration)
        try await consumer.subscribe(topics: ["t"], startingAt: .beginning)
        #expect(await consumer.assignment == (0..<3).map { TopicPartition(topic: "t", partition: $0) })
        #expect(await consumer.groupMembership?.memberId == "member-1")
        var values: [String] = []
        while try await !consumer.reachedEnd() { values += try await consumer.poll().map { String(buffer: $0.value!) } }
        #expect(values.count == 9)
        await consumer.close()
        let committed = broker.state.withLock { $0.committed["g"] ?? [:] }
        #expect(committed == Dictionary(uniqueKeysWithValues: (0..<3).map { (TopicPartition(topic: "t", partition: $0), Int64(3)) }))
        #expect(broker.state.withLock { $0.leaves } == 1)

        _ = try await producer.send(ProducerRecord(topic: "t", partition: 1, key: nil, value: "late"))
        let again = KafkaConsumer(client: client, configuration: configuration)
        try await again.subscribe(topics: ["t"], startingAt: .beginning)
        var rest: [String] = []
        while try await !again.reachedEnd() { rest += try await again.poll().map { String(buffer: $0.value!) } }
        #expect(rest == ["late"])
        #expect(try await client.committedOffsets(group: "g")[TopicPartition(topic: "t", partition: 1)] == 3)
        await again.close()
        await client.close()
        await broker.stop()
    }
}
