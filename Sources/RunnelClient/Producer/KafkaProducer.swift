// The producer: partitions records, accumulates them into batches per partition (linger.ms, batch.size),
// and reports each record's delivery. Sending, retries and sequence numbers live in KafkaProducer+Sender.
import KafkaProtocol
import KafkaRecords
import NIOCore
import NIOPosix

/// An idempotent, batching Kafka producer.
///
/// ```swift
/// let producer = try KafkaProducer(client: client)
/// let metadata = try await producer.send(ProducerRecord(topic: "events", key: "k", value: "v"))
/// ```
/// `produce(_:onDelivery:)` hands a record over without waiting, `flush()` waits for everything handed over.
public actor KafkaProducer {
    public let client: KafkaClient
    public let configuration: ProducerConfiguration

    var partitioner = DefaultPartitioner()
    var producerIdentity: (id: Int64, epoch: Int16) = (-1, -1)
    var producerIdTask: Task<(id: Int64, epoch: Int16), any Error>?
    var queues: [TopicPartition: PartitionQueue] = [:]
    /// Partition counts and leaders per topic, as last seen in metadata.
    var topics: [String: TopicMetadata] = [:] {
        didSet { availablePartitions = topics.mapValues { $0.partitions.filter { $0.leader >= 0 }.map(\.partition) } }
    }
    /// Partitions with a leader, per topic (what null-key records may stick to).
    var availablePartitions: [String: [Int32]] = [:]
    var connections: [Int32: BrokerConnection] = [:]
    var connecting: Set<Int32> = []
    var refreshing: Set<String> = []
    var bufferedBytes = 0
    var outstandingRecords = 0
    var flushRequests = 0
    var flushWaiters: [CheckedContinuation<Void, Never>] = []
    var memoryWaiters: [CheckedContinuation<Void, Never>] = []
    var nextBatchId: UInt64 = 0
    var isClosed = false

    /// The batches of one partition.
    struct PartitionQueue {
        var open: ProducerBatch?
        /// Closed batches waiting to be sent, in hand-over order (retries go back in their place).
        var ready: [ProducerBatch] = []
        var inFlight = 0
        /// The sequence given to the next batch closed.
        var nextSequence: Int32 = 0
        /// The sequence the broker expects next: stamped on each batch as it is sent (differs from the
        /// batch's own after an earlier batch failed for good).
        var sendSequence: Int32 = 0
        /// Set after a failure: once nothing is in flight, send one batch at a time until one succeeds,
        /// so records keep their order and sequences are contiguous.
        var retrying = false
        var backoffUntil: ContinuousClock.Instant?
    }

    /// A producer on `client`. Throws for invalid configurations (e.g. idempotence with acks=1).
    public init(client: KafkaClient, configuration: ProducerConfiguration = .init()) throws {
        try configuration.validate()
        self.client = client
        self.configuration = configuration
    }

    // MARK: Handing records over

    /// Sends `record` and waits until it is delivered (or failed after retries).
    public func send(_ record: ProducerRecord) async throws -> RecordMetadata {
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: RecordMetadata.self)
        try await produce(record) { result in promise.completeWith(result.mapError { $0 as any Error }) }
        return try await promise.futureResult.get()
    }

    /// Hands `record` over for sending; `onDelivery` is called once with its outcome. Waits only when
    /// `buffer.memory` is exhausted. Throws at once for an unknown topic or partition, or a closed producer.
    public func produce(_ record: ProducerRecord,
                        onDelivery: @escaping @Sendable (DeliveryResult) -> Void) async throws {
        guard !isClosed else { throw KafkaClientError.closed }
        if configuration.enableIdempotence && producerIdentity.id < 0 { try await ensureProducerId() }
        let topic = try await topicMetadata(record.topic)
        try await handOver(record, topic: topic, timestamp: record.timestamp ?? TimestampParser.nowMilliseconds(),
                           sink: .record(onDelivery))
    }

    /// Hands several records over in one call (one hop onto the producer instead of one per record);
    /// `onDelivery` receives each record's index in `records` with its outcome. Records without a
    /// timestamp get the time of the call. Throws like `produce` for the first record that cannot be
    /// handed over; records before it are already handed over.
    public func produce(contentsOf records: [ProducerRecord],
                        onDelivery: @escaping @Sendable (Int, DeliveryResult) -> Void) async throws {
        guard !isClosed else { throw KafkaClientError.closed }
        if configuration.enableIdempotence && producerIdentity.id < 0 { try await ensureProducerId() }
        let now = TimestampParser.nowMilliseconds()
        var last: TopicMetadata?
        for (index, record) in records.enumerated() {
            let topic: TopicMetadata
            if let last, last.name == record.topic {
                topic = last
            } else {
                topic = try await topicMetadata(record.topic)
                last = topic
            }
            try await handOver(record, topic: topic, timestamp: record.timestamp ?? now,
                               sink: .indexed(onDelivery, index))
        }
    }

    /// Partitions `record` and appends it to its partition's open batch (waiting for buffer memory).
    private func handOver(_ record: ProducerRecord, topic: TopicMetadata, timestamp: Int64,
                          sink: DeliverySink) async throws {
        let size = record.estimatedSize
        guard size <= configuration.maxRequestSize else {
            sink(.failure(.broker(code: .messageTooLarge, context: "produce to \(record.topic)",
                                  message: "the record is \(size) bytes, more than max.request.size \(configuration.maxRequestSize)")))
            return
        }
        while bufferedBytes > 0 && bufferedBytes + size > configuration.bufferMemory {
            await withCheckedContinuation { memoryWaiters.append($0) }
        }
        let partition: Int32
        if let explicit = record.partition {
            guard explicit >= 0, explicit < topic.partitionCount else {
                throw KafkaClientError.broker(code: .unknownTopicOrPartition, context: "\(record.topic)-\(explicit)",
                                              message: "topic '\(record.topic)' has \(topic.partitionCount) partitions")
            }
            partition = explicit
        } else {
            partition = partitioner.partition(topic: record.topic, key: record.key,
                                              partitionCount: topic.partitionCount,
                                              available: availablePartitions[record.topic] ?? [])
        }
        append(record, to: TopicPartition(topic: record.topic, partition: partition), size: size,
               timestamp: timestamp, callback: sink)
    }

    private func append(_ record: ProducerRecord, to topicPartition: TopicPartition, size: Int, timestamp: Int64,
                        callback: DeliverySink) {
        // Mutated in place in the dictionary (one lookup, and the open batch's buffer stays uniquely
        // referenced: no copy-on-write per record). Nothing below touches `queues` meanwhile.
        let closedOne = append(record, to: &queues[topicPartition, default: PartitionQueue()],
                               topicPartition: topicPartition, size: size, timestamp: timestamp, callback: callback)
        if closedOne || configuration.linger == .zero { drain() }
    }

    /// Appends to the open batch of `queue` (opening one as needed). True when a batch was closed.
    private func append(_ record: ProducerRecord, to queue: inout PartitionQueue, topicPartition: TopicPartition,
                        size: Int, timestamp: Int64, callback: DeliverySink) -> Bool {
        var closed = false
        if let count = queue.open?.recordCount, count > 0,
           (queue.open?.builder.estimatedSizeInBytes ?? 0) + size > configuration.batchSize {
            closeOpenBatch(of: &queue, topicPartition: topicPartition)
            closed = true
        }
        if queue.open == nil {
            nextBatchId += 1
            queue.open = ProducerBatch(topicPartition: topicPartition, compression: configuration.compression,
                                       capacity: Swift.min(configuration.batchSize, 1 << 20) + 128, id: nextBatchId)
            scheduleLinger(topicPartition, batchId: nextBatchId)
        }
        queue.open?.append(record, timestamp: timestamp, size: size, callback: callback)
        bufferedBytes += size
        outstandingRecords += 1
        if (queue.open?.builder.estimatedSizeInBytes ?? 0) >= configuration.batchSize {
            closeOpenBatch(of: &queue, topicPartition: topicPartition)
            closed = true
        }
        return closed
    }

    private func scheduleLinger(_ topicPartition: TopicPartition, batchId: UInt64) {
        let linger = configuration.linger
        guard linger > .zero else { return }
        Task {
            try? await Task.sleep(for: linger)
            self.lingerExpired(topicPartition, batchId: batchId)
        }
    }

    private func lingerExpired(_ topicPartition: TopicPartition, batchId: UInt64) {
        guard let open = queues[topicPartition]?.open, open.id == batchId else { return }
        drain()
    }

    /// Closes the open batch of a partition: assigns its sequence numbers (its bytes are built as it is sent).
    func closeOpenBatch(of queue: inout PartitionQueue, topicPartition: TopicPartition) {
        guard var batch = queue.open else { return }
        queue.open = nil
        var baseSequence: Int32 = -1
        if configuration.enableIdempotence {
            baseSequence = queue.nextSequence
            let next = Int64(queue.nextSequence) + Int64(batch.recordCount)
            queue.nextSequence = next > Int64(Int32.max) ? Int32(next - Int64(Int32.max) - 1) : Int32(next)
        }
        batch.close(producerId: producerIdentity.id, producerEpoch: producerIdentity.epoch, baseSequence: baseSequence)
        queue.ready.append(batch)
        if partitioner.stickyPartition(topic: topicPartition.topic) == topicPartition.partition,
           let topic = topics[topicPartition.topic],
           configuration.stickyPartitioningLinger == .zero
            || ContinuousClock.now - (partitioner.stickyPartitionChosenAt(topic: topicPartition.topic) ?? .now)
                >= configuration.stickyPartitioningLinger {
            partitioner.nextStickyPartition(topic: topicPartition.topic, partitionCount: topic.partitionCount,
                                            available: availablePartitions[topicPartition.topic] ?? [])
        }
    }

    // MARK: Flush and close

    /// Sends everything handed over so far and waits until each record is delivered or failed.
    public func flush() async {
        guard outstandingRecords > 0 else { return }
        flushRequests += 1
        drain()
        await withCheckedContinuation { flushWaiters.append($0) }
        flushRequests -= 1
    }

    /// Flushes, then stops accepting records. The shared client stays open.
    public func close() async {
        await flush()
        isClosed = true
    }

    /// Records handed over and not yet completed.
    public var pendingRecordCount: Int { outstandingRecords }

    /// Calls the callbacks of `batch` and releases its memory.
    func complete(_ batch: ProducerBatch, with result: Result<(baseOffset: Int64, logAppendTime: Int64), KafkaClientError>) {
        switch result {
        case .success(let outcome): batch.succeed(baseOffset: outcome.baseOffset, logAppendTime: outcome.logAppendTime)
        case .failure(let error): batch.fail(error)
        }
        bufferedBytes -= batch.accountedBytes
        outstandingRecords -= batch.recordCount
        if !memoryWaiters.isEmpty {
            let waiters = memoryWaiters
            memoryWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        if outstandingRecords == 0 && !flushWaiters.isEmpty {
            let waiters = flushWaiters
            flushWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    // MARK: Metadata and producer id

    func topicMetadata(_ name: String) async throws -> TopicMetadata {
        if let cached = topics[name] { return cached }
        let metadata = try await client.topicMetadata(name)
        topics[name] = metadata
        return metadata
    }

    private func ensureProducerId() async throws {
        if let task = producerIdTask {
            producerIdentity = try await task.value
            return
        }
        let client = self.client
        let task = Task { () async throws -> (id: Int64, epoch: Int16) in
            var request = InitProducerIdRequest()
            request.transactionalId = nil
            request.transactionTimeoutMs = 60_000
            let connection = try await client.anyConnection()
            guard connection.apiVersions.supports(.initProducerId) else {
                throw KafkaClientError.unsupportedApi(address: connection.address.description,
                                                      api: "InitProducerId (disable idempotence)")
            }
            let response = try await connection.send(request)
            try KafkaClientError.check(response.errorCode, "init producer id")
            return (response.producerId, response.producerEpoch)
        }
        producerIdTask = task
        do {
            producerIdentity = try await task.value
        } catch {
            producerIdTask = nil
            throw error
        }
    }
}
