// Produce: per partition, validate batch headers, append, answer when durable — in request order.
import KafkaProtocol
import KafkaRecords
import NIOCore
import RunnelCluster

extension BrokerCore {
    func produce(_ request: ProduceRequest, _ context: HandlerRequest) -> EventLoopFuture<ProduceResponse> {
        let loop = context.eventLoop
        let version = context.version
        guard request.acks == -1 || request.acks == 0 || request.acks == 1 else {
            return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .invalidRequiredAcks))
        }
        if request.transactionalId != nil {
            // Transactions are not served yet (see docs/compatibility.md).
            return loop.makeSucceededFuture(produceErrorResponse(request, version: version, code: .transactionalIdAuthorizationFailed))
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
                ? metadataStore.topic(id: topicData.topicId) : metadataStore.topic(named: topicData.name)
            for (partitionIndex, partitionData) in topicData.partitionData.enumerated() {
                guard let topic, let partition = replicas.partition(topic: topic.name, index: partitionData.index) else {
                    let code: ErrorCode = version >= 13 && topic == nil ? .unknownTopicId : .unknownTopicOrPartition
                    collector.set(topicIndex, partitionIndex, partitionError(partitionData.index, code, message: nil))
                    continue
                }
                guard !InternalTopics.contains(topic.name) else {
                    // Kafka's ReplicaManager: clients never append to internal topics.
                    collector.set(topicIndex, partitionIndex, partitionError(
                        partitionData.index, .invalidTopicException, message: "Cannot append to internal topic \(topic.name)"))
                    continue
                }
                appendToPartition(partition, topic: topic, data: partitionData, context: context) { answer in
                    collector.set(topicIndex, partitionIndex, answer)
                }
            }
        }
        return collector.future
    }

    private func appendToPartition(_ partition: Partition, topic: TopicMetadata,
                                   data: ProduceRequest.PartitionProduceData, context: HandlerRequest,
                                   answer: @escaping @Sendable (ProduceResponse.PartitionProduceResponse) -> Void) {
        let index = data.index
        guard let records = data.records, records.readableBytes > 0 else {
            answer(partitionError(index, .corruptMessage,
                                  message: context.version >= 8 ? "Produce request carries no record batches" : nil))
            return
        }
        partition.append(records: records) { result in
            switch result {
            case .success(let outcome):
                var response = ProduceResponse.PartitionProduceResponse()
                response.index = index
                response.errorCode = ErrorCode.none.rawValue
                response.baseOffset = outcome.baseOffset
                response.logAppendTimeMs = outcome.logAppendTime
                if context.version >= 5 { response.logStartOffset = outcome.logStartOffset }
                answer(response)
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
