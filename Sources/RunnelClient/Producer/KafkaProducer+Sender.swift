// The producer's sending side: picks ready batches, groups them by leader into Produce requests, writes
// them in order, and handles the responses (success, retry with backoff, or failure per batch).
import KafkaProtocol
import KafkaRecords
import NIOCore

extension KafkaProducer {
    /// Sends every batch that may go now. Called after appends, linger timeouts, responses and backoffs.
    func drain() {
        let now = ContinuousClock.now
        var byLeader: [Int32: [ProducerBatch]] = [:]
        for (topicPartition, var queue) in queues {
            if let until = queue.backoffUntil {
                if until > now { continue }
                queue.backoffUntil = nil
            }
            let limit = queue.retrying ? (queue.inFlight == 0 ? 1 : 0) : configuration.maxInFlightPerPartition
            guard queue.inFlight < limit else { queues[topicPartition] = queue; continue }
            if queue.ready.isEmpty, let open = queue.open {
                let lingered = now - open.createdAt >= configuration.linger
                if lingered || flushRequests > 0 { closeOpenBatch(of: &queue, topicPartition: topicPartition) }
            }
            guard !queue.ready.isEmpty else { queues[topicPartition] = queue; continue }
            guard let leader = leader(of: topicPartition) else {
                queues[topicPartition] = queue
                expireStale(topicPartition)
                refreshTopic(topicPartition.topic)
                continue
            }
            guard connections[leader]?.isActive == true else {
                queues[topicPartition] = queue
                connect(to: leader)
                continue
            }
            var batch = queue.ready.removeFirst()
            if configuration.enableIdempotence {
                if batch.baseSequence != queue.sendSequence { batch.restamp(sequence: queue.sendSequence) }
                queue.sendSequence = Self.sequence(queue.sendSequence, plus: batch.recordCount)
            }
            batch.attempts += 1
            queue.inFlight += 1
            queues[topicPartition] = queue
            byLeader[leader, default: []].append(batch)
        }
        for (leader, batches) in byLeader {
            guard let connection = connections[leader] else { continue }
            for batch in batches { send([batch], over: connection) }
        }
    }

    private func leader(of topicPartition: TopicPartition) -> Int32? {
        guard let leader = topics[topicPartition.topic]?.partitions.first(where: { $0.partition == topicPartition.partition })?
            .leader, leader >= 0 else { return nil }
        return leader
    }

    private func send(_ batches: [ProducerBatch], over connection: BrokerConnection) {
        // Produce v13+ names topics by id; fall back to v12 when an id is unknown (older metadata).
        var topicIds: [String: KafkaUUID] = [:]
        for batch in batches where topicIds[batch.topicPartition.topic] == nil {
            topicIds[batch.topicPartition.topic] = topics[batch.topicPartition.topic]?.uuid ?? .zero
        }
        let ids = topicIds
        let idsKnown = !ids.values.contains(.zero)
        guard let version = connection.apiVersions.negotiatedVersion(for: .produce, atMost: idsKnown ? .max : 12) else {
            for batch in batches {
                handleFailure(batch, error: .unsupportedApi(address: connection.address.description, api: "Produce"))
            }
            return
        }
        let acks = configuration.acks
        let timeoutMs = configuration.requestTimeoutMilliseconds
        let parts = batches.map { (topicPartition: $0.topicPartition, builder: $0.builder) }
        var frameSize = 256
        for batch in batches { frameSize += 64 + batch.builder.estimatedSizeInBytes }
        // Built on the connection's event loop: compression, CRC and copying into the frame happen there,
        // leaving the producer free to take more records.
        let make: @Sendable () throws -> ProduceRequest = {
            var request = ProduceRequest()
            request.transactionalId = nil
            request.acks = acks.rawValue
            request.timeoutMs = timeoutMs
            var byTopic: [String: [ProduceRequest.PartitionProduceData]] = [:]
            for part in parts {
                var data = ProduceRequest.PartitionProduceData()
                data.index = part.topicPartition.partition
                do {
                    data.records = try part.builder.build()
                } catch {
                    throw KafkaClientError.invalidArgument("cannot build record batch for \(part.topicPartition): \(error)")
                }
                byTopic[part.topicPartition.topic, default: []].append(data)
            }
            request.topicData = byTopic.map { topic, partitions in
                var data = ProduceRequest.TopicProduceData()
                if version >= 13 {
                    data.topicId = ids[topic] ?? .zero
                } else {
                    data.name = topic
                }
                data.partitionData = partitions
                return data
            }
            return request
        }
        if configuration.acks == .none {
            let request: ProduceRequest
            do {
                request = try make()
            } catch {
                for batch in batches { finish(batch, result: .failure(error as? KafkaClientError ?? .protocolError("\(error)"))) }
                drain()
                return
            }
            let size = frameSize
            Task { try? await connection.sendWithoutResponse(request, version: version, estimatedSize: size) }
            for batch in batches { finish(batch, result: .success((-1, -1))) }
            drain()
            return
        }
        let pending = connection.start(version: version, estimatedSize: frameSize, building: make)
        Task {
            do {
                let response = try await pending.get()
                self.handle(response, version: version, for: batches)
            } catch {
                let clientError = error as? KafkaClientError ?? .protocolError("\(error)")
                if clientError.isConnectionProblem { self.dropConnection(connection) }
                for batch in batches { self.handleFailure(batch, error: clientError) }
            }
        }
    }

    private func handle(_ response: ProduceResponse, version: Int16, for batches: [ProducerBatch]) {
        var names: [KafkaUUID: String] = [:]
        if version >= 13 {
            for batch in batches { names[topics[batch.topicPartition.topic]?.uuid ?? .zero] = batch.topicPartition.topic }
        }
        var results: [TopicPartition: ProduceResponse.PartitionProduceResponse] = [:]
        for topic in response.responses {
            guard let name = version >= 13 ? names[topic.topicId] : topic.name else { continue }
            for partition in topic.partitionResponses {
                results[TopicPartition(topic: name, partition: partition.index)] = partition
            }
        }
        for batch in batches {
            guard let result = results[batch.topicPartition] else {
                handleFailure(batch, error: .protocolError("no produce result for \(batch.topicPartition)"))
                continue
            }
            let code = ErrorCode(rawValue: result.errorCode)
            if code == .none {
                finish(batch, result: .success((result.baseOffset, result.logAppendTimeMs)))
            } else if code == .duplicateSequenceNumber {
                // Already written by an earlier attempt whose response was lost.
                finish(batch, result: .success((-1, -1)))
            } else {
                let detail = result.recordErrors.first?.batchIndexErrorMessage ?? result.errorMessage
                handleFailure(batch, error: .broker(code: code, context: "produce to \(batch.topicPartition)",
                                                    message: detail))
            }
        }
        drain()
    }

    private func finish(_ batch: ProducerBatch, result: Result<(baseOffset: Int64, logAppendTime: Int64), KafkaClientError>) {
        if var queue = queues[batch.topicPartition] {
            queue.inFlight -= 1
            switch result {
            case .success:
                if queue.inFlight == 0 { queue.retrying = false }
            case .failure:
                // The broker did not take the batch: the next one sent must carry its sequence.
                if configuration.enableIdempotence {
                    queue.sendSequence = Swift.min(queue.sendSequence, batch.baseSequence)
                    queue.retrying = true
                }
            }
            queues[batch.topicPartition] = queue
        }
        complete(batch, with: result)
    }

    private func handleFailure(_ batch: ProducerBatch, error: KafkaClientError) {
        let code = error.errorCode
        let retriable = error.isRetriable || code == .outOfOrderSequenceNumber
        let elapsed = ContinuousClock.now - batch.createdAt
        guard retriable, batch.attempts <= configuration.retries, elapsed < configuration.deliveryTimeout,
              !isClosed || flushRequests > 0 else {
            finish(batch, result: .failure(error))
            return
        }
        var queue = queues[batch.topicPartition] ?? PartitionQueue()
        queue.inFlight -= 1
        queue.retrying = true
        if configuration.enableIdempotence {
            queue.sendSequence = Swift.min(queue.sendSequence, batch.baseSequence)
        }
        let index = queue.ready.firstIndex { $0.id > batch.id }
        queue.ready.insert(batch, at: index ?? queue.ready.endIndex)
        let shift = Swift.min(batch.attempts - 1, 4)
        let backoff = Swift.min(configuration.retryBackoff * (1 << shift), .seconds(1))
        queue.backoffUntil = .now + backoff
        queues[batch.topicPartition] = queue
        if code == .notLeaderOrFollower || code == .leaderNotAvailable || code == .unknownTopicOrPartition
            || code == .unknownTopicId || code == .inconsistentTopicId || error.isConnectionProblem {
            topics[batch.topicPartition.topic] = nil
            refreshTopic(batch.topicPartition.topic)
        }
        Task {
            try? await Task.sleep(for: backoff)
            self.drain()
        }
    }

    /// `sequence + count`, wrapping past Int32.max to 0 as Kafka does.
    static func sequence(_ sequence: Int32, plus count: Int) -> Int32 {
        let next = Int64(sequence) + Int64(count)
        return next > Int64(Int32.max) ? Int32(next - Int64(Int32.max) - 1) : Int32(next)
    }

    /// Fails batches of a partition that waited longer than the delivery timeout for a leader.
    private func expireStale(_ topicPartition: TopicPartition) {
        guard var queue = queues[topicPartition] else { return }
        let now = ContinuousClock.now
        let (stale, fresh) = (queue.ready.filter { now - $0.createdAt >= configuration.deliveryTimeout },
                              queue.ready.filter { now - $0.createdAt < configuration.deliveryTimeout })
        guard !stale.isEmpty else { return }
        queue.ready = fresh
        queues[topicPartition] = queue
        for batch in stale {
            complete(batch, with: .failure(.partitionUnavailable(topic: topicPartition.topic,
                                                                 partition: topicPartition.partition)))
        }
    }

    private func refreshTopic(_ topic: String) {
        guard !refreshing.contains(topic) else { return }
        refreshing.insert(topic)
        let client = self.client
        let backoff = configuration.retryBackoff
        Task {
            let metadata = try? await client.topicMetadata(topic, forceRefresh: true)
            self.refreshed(topic, metadata: metadata)
            if metadata == nil {
                try? await Task.sleep(for: backoff)
                self.drain()
            }
        }
    }

    private func refreshed(_ topic: String, metadata: TopicMetadata?) {
        refreshing.remove(topic)
        if let metadata { topics[topic] = metadata }
        drain()
    }

    private func connect(to leader: Int32) {
        guard !connecting.contains(leader) else { return }
        connecting.insert(leader)
        let client = self.client
        let backoff = configuration.retryBackoff
        Task {
            let connection = try? await client.connection(toBroker: leader)
            self.connected(leader, connection: connection)
            if connection == nil {
                try? await Task.sleep(for: backoff)
                self.drain()
            }
        }
    }

    private func connected(_ leader: Int32, connection: BrokerConnection?) {
        connecting.remove(leader)
        if let connection { connections[leader] = connection }
        drain()
    }

    private func dropConnection(_ connection: BrokerConnection) {
        for (id, known) in connections where known === connection { connections[id] = nil }
    }
}
