// Produce: per partition, validate batch headers, append, answer when durable — in request order.
import KafkaProtocol
import KafkaRecords
import NIOConcurrencyHelpers
import NIOCore
import RunnelCluster
import RunnelTransactions

extension BrokerCore {
    func produce(_ request: ProduceRequest, _ context: HandlerRequest) -> EventLoopFuture<ProduceResponse> {
        let loop = context.eventLoop
        let version = context.version
        guard request.acks == -1 || request.acks == 0 || request.acks == 1 else {
            return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .invalidRequiredAcks))
        }
        // Kafka: transactional batches need the request's transactional id (else the whole request fails
        // with TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and all of them one producer id.
        var transactionalProducers = Set<Int64>()
        for topicData in request.topicData {
            for partitionData in topicData.partitionData {
                if let header = Self.firstHeader(partitionData.records), header.isTransactional, header.hasProducerId {
                    transactionalProducers.insert(header.producerId)
                }
            }
        }
        if !transactionalProducers.isEmpty {
            guard let id = request.transactionalId, !id.isEmpty else {
                return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .transactionalIdAuthorizationFailed))
            }
            guard transactionalProducers.count == 1 else {
                return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .invalidProducerIdMapping))
            }
            guard transactionalProduceAllowed(id, context) else {
                return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .transactionalIdAuthorizationFailed))
            }
        }
        // One response skeleton and one promise per request: each partition's answer lands in its slot
        // and the last one completes the promise (no future combinators per partition or topic).
        var skeleton = ProduceResponse()
        skeleton.throttleTimeMs = 0
        skeleton.responses = request.topicData.map { topicData in
            var topic = ProduceResponse.TopicProduceResponse()
            topic.name = topicData.name
            topic.topicId = topicData.topicId
            topic.partitionResponses = []
            topic.partitionResponses.reserveCapacity(topicData.partitionData.count)
            for partitionData in topicData.partitionData {
                var slot = ProduceResponse.PartitionProduceResponse()
                slot.index = partitionData.index
                topic.partitionResponses.append(slot)
            }
            return topic
        }
        let collector = ProduceResponseCollector(response: skeleton, pending: request.topicData.reduce(0) {
            $0 + $1.partitionData.count
        }, promise: loop.makePromise(of: ProduceResponse.self))
        for (topicIndex, topicData) in request.topicData.enumerated() {
            let topic: TopicMetadata? = version >= 13
                ? metadataStore.topic(id: topicData.topicId) : metadataStore.image.topic(resolving: topicData.name)?.metadata
            // ACLs govern the topic the records land in (an alias resolves to its target first).
            if let name = topic?.name ?? (topicData.name.isEmpty ? nil : topicData.name), !produceWriteAllowed(topic: name, context) {
                for (partitionIndex, partitionData) in topicData.partitionData.enumerated() {
                    collector.set(topicIndex, partitionIndex, partitionError(partitionData.index, .topicAuthorizationFailed, message: nil))
                }
                continue
            }
            for (partitionIndex, partitionData) in topicData.partitionData.enumerated() {
                guard let topic, let partition = replicas.partition(topic: topic.name, index: partitionData.index) else {
                    let code: ErrorCode = topic.map { replicas.notHostedError(topic: $0, index: partitionData.index) }
                        ?? (version >= 13 ? .unknownTopicId : .unknownTopicOrPartition)
                    collector.set(topicIndex, partitionIndex, partitionError(partitionData.index, code, message: nil))
                    continue
                }
                guard !InternalTopics.contains(topic.name) else {
                    // Kafka's ReplicaManager: clients never append to internal topics.
                    collector.set(topicIndex, partitionIndex, partitionError(
                        partitionData.index, .invalidTopicException, message: "Cannot append to internal topic \(topic.name)"))
                    continue
                }
                appendToPartition(partition, topic: topic, data: partitionData, transactionalId: request.transactionalId,
                                  acks: request.acks, timeoutMs: request.timeoutMs, context: context) { answer in
                    collector.set(topicIndex, partitionIndex, answer)
                }
            }
        }
        return collector.future
    }

    private func appendToPartition(_ partition: Partition, topic: TopicMetadata,
                                   data: ProduceRequest.PartitionProduceData, transactionalId: String?,
                                   acks: Int16, timeoutMs: Int32, context: HandlerRequest,
                                   answer: @escaping @Sendable (ProduceResponse.PartitionProduceResponse) -> Void) {
        let index = data.index
        guard let records = data.records, records.readableBytes > 0 else {
            answer(partitionError(index, .corruptMessage,
                                  message: context.version >= 8 ? "Produce request carries no record batches" : nil))
            return
        }
        if let code = partition.leaderCheck() {
            answer(partitionError(index, code, message: context.version >= 8
                ? "This broker is not the leader of \(topic.name)-\(index)" : nil))
            return
        }
        // acks=all in cluster mode: refused up front when the ISR is below min.insync.replicas.
        let minInsync = partition.currentSettings.minInsyncReplicas
        let waitsForIsr = acks == -1 && partition.replicated
        if waitsForIsr, let isr = partition.inSyncReplicaCount, isr < minInsync {
            answer(partitionError(index, .notEnoughReplicas, message: context.version >= 8
                ? "The in-sync replicas (\(isr)) are fewer than min.insync.replicas=\(minInsync)" : nil))
            return
        }
        if let header = Self.firstHeader(records), header.isTransactional, header.hasProducerId {
            let id = transactionalId ?? ""
            // Produce v12+ comes from transactions-v2 clients, which send no AddPartitionsToTxn: the
            // partition is added here (Kafka's AddPartitionsToTxnManager with the addPartition operation).
            let implicitAdd = context.version >= 12
            let remote = remoteTransactionVerifier.flatMap { $0.remoteCoordinator(for: id) != nil ? $0 : nil }
            let target = TopicPartition(topic: topic.name, partition: index)
            let key = TransactionalAppendOrder.Key(topic: topic.name, partition: index, producerId: header.producerId)
            let needed = partition.log.transactionVerificationNeeded(producerId: header.producerId, epoch: header.producerEpoch)
            if implicitAdd || remote != nil {
                switch transactionalAppendOrder.turn(key, needsCoordinator: needed, on: context.eventLoop) {
                case .now:
                    break
                case .queued(let previous, let done):
                    Task {
                        if let previous { try? await previous.get() }
                        let code = await partition.guardTransactionalWrite(
                            transactionalId: id, producerId: header.producerId, producerEpoch: header.producerEpoch,
                            target: target, implicitAdd: implicitAdd, coordinator: transactionCoordinator, remote: remote)
                        if let (error, message) = translateVerification(code, version: context.version) {
                            answer(partitionError(index, error, message: context.version >= 8 ? message : nil))
                        } else {
                            appendVerified(partition, topic: topic, records: records, index: index, acks: acks,
                                           timeoutMs: timeoutMs, minInsync: minInsync, context: context, answer: answer)
                        }
                        transactionalAppendOrder.finish(key, done)
                    }
                    return
                }
            } else if needed {
                let code = partition.verifyTransaction(transactionalId: id, producerId: header.producerId,
                                                       producerEpoch: header.producerEpoch, coordinator: transactionCoordinator)
                if let (error, message) = translateVerification(code, version: context.version) {
                    answer(partitionError(index, error, message: context.version >= 8 ? message : nil))
                    return
                }
            }
        }
        appendVerified(partition, topic: topic, records: records, index: index, acks: acks, timeoutMs: timeoutMs,
                       minInsync: minInsync, context: context, answer: answer)
    }

    /// Appends a partition's records (checks done) and answers: when durable (acks=1), when the ISR has
    /// them (acks=all in cluster mode), or with the append's error.
    private func appendVerified(_ partition: Partition, topic: TopicMetadata, records: ByteBuffer, index: Int32,
                                acks: Int16, timeoutMs: Int32, minInsync: Int, context: HandlerRequest,
                                answer: @escaping @Sendable (ProduceResponse.PartitionProduceResponse) -> Void) {
        let waitsForIsr = acks == -1 && partition.replicated
        partition.append(records: records) { result in
            switch result {
            case .success(let outcome):
                var response = ProduceResponse.PartitionProduceResponse()
                response.index = index
                response.errorCode = ErrorCode.none.rawValue
                response.baseOffset = outcome.baseOffset
                response.logAppendTimeMs = outcome.logAppendTime
                if context.version >= 5 { response.logStartOffset = outcome.logStartOffset }
                guard waitsForIsr else {
                    answer(response)
                    return
                }
                let accepted = response
                self.awaitIsr(partition, through: outcome.lastOffset, minInsync: minInsync, timeoutMs: timeoutMs,
                              context: context) { code in
                    guard code != .none else {
                        answer(accepted)
                        return
                    }
                    answer(self.partitionError(index, code, message: context.version >= 8
                        ? "The append was not replicated to the in-sync replicas: \(code.name)" : nil))
                }
            case .failure(let error):
                if error.isUnexpected {
                    context.context.logger.error("append failed", metadata: [
                        "topic": "\(topic.name)", "partition": "\(index)", "error": "\(error)"])
                } else {
                    context.context.logger.debug("produce rejected", metadata: [
                        "topic": "\(topic.name)", "partition": "\(index)", "error": "\(error)"])
                }
                var response = self.partitionError(index, error.errorCode,
                                                   message: context.version >= 8 ? error.message : nil)
                if let batchIndex = error.batchIndex, context.version >= 8 {
                    var recordError = ProduceResponse.BatchIndexAndErrorMessage()
                    recordError.batchIndex = batchIndex
                    recordError.batchIndexErrorMessage = error.message
                    response.recordErrors = [recordError]
                }
                if context.version >= 5 { response.logStartOffset = partition.logStartOffset }
                answer(response)
            }
        }
    }

    /// acks=all: waits until the ISR has the append (the high watermark passed `lastOffset`), at most
    /// the request's `timeout.ms` (REQUEST_TIMED_OUT), as Kafka's delayed produce.
    private func awaitIsr(_ partition: Partition, through lastOffset: Int64, minInsync: Int, timeoutMs: Int32,
                          context: HandlerRequest, answer: @escaping @Sendable (ErrorCode) -> Void) {
        let timer = NIOLockedValueBox<Scheduled<Void>?>(nil)
        let wait = partition.awaitReplication(through: lastOffset, minInsync: minInsync) { code in
            timer.withLockedValue { $0?.cancel() }
            answer(code)
        }
        guard !wait.isDone else { return }
        let scheduled = context.eventLoop.scheduleTask(in: .milliseconds(Int64(max(timeoutMs, 0)))) {
            wait.finish(.requestTimedOut)
        }
        timer.withLockedValue { $0 = scheduled }
        if wait.isDone { scheduled.cancel() }
    }

    /// The first batch header of a partition's records (nil when there is none to read).
    static func firstHeader(_ records: ByteBuffer?) -> RecordBatchHeader? {
        guard let records else { return nil }
        return RecordBatchHeader(from: records, at: records.readerIndex)
    }

    /// KIP-890 part 1: a transactional batch that would open a transaction in a partition is checked with
    /// the transaction coordinator first; the partition refuses it if the transaction ended meanwhile.
    /// Returns the verification's error translated as Kafka translates coordinator errors for
    /// producers, or nil.
    private func translateVerification(_ code: ErrorCode, version: Int16) -> (ErrorCode, String)? {
        switch code {
        case .none:
            return nil
        case .invalidTxnState:
            return (.invalidTxnState, "The transaction ended while the partition was being verified")
        case .transactionAbortable:
            // Produce v11 and older clients do not know TRANSACTION_ABORTABLE.
            return (version > 10 ? .transactionAbortable : .invalidTxnState, "Partition was not added to the transaction")
        case .producerFenced:
            return (.invalidProducerEpoch, "Producer epoch is not the transaction's current epoch")
        case .concurrentTransactions, .coordinatorLoadInProgress, .coordinatorNotAvailable, .notCoordinator:
            // Retriable for every client without a metadata refresh (Kafka's choice).
            return (.notEnoughReplicas, "Unable to verify the partition has been added to the transaction: \(code.name)")
        default:
            return (code, "Transaction verification failed: \(code.name)")
        }
    }

    private func partitionError(_ index: Int32, _ code: ErrorCode, message: String?) -> ProduceResponse.PartitionProduceResponse {
        var response = ProduceResponse.PartitionProduceResponse()
        response.index = index
        response.errorCode = code.rawValue
        response.baseOffset = -1
        response.logAppendTimeMs = -1
        response.errorMessage = message
        return response
    }

    private func produceErrorResponse(_ request: ProduceRequest, version: Int16, code: ErrorCode) -> ProduceResponse {
        var response = ProduceResponse()
        response.responses = request.topicData.map { topicData in
            var topic = ProduceResponse.TopicProduceResponse()
            topic.name = topicData.name
            topic.topicId = topicData.topicId
            topic.partitionResponses = topicData.partitionData.map { partitionError($0.index, code, message: nil) }
            return topic
        }
        return response
    }
}
