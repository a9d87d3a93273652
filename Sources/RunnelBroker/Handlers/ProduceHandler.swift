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
        var topicFutures: [EventLoopFuture<ProduceResponse.TopicProduceResponse>] = []
        topicFutures.reserveCapacity(request.topicData.count)
        for topicData in request.topicData {
            let topic: TopicMetadata? = version >= 13
                ? metadataStore.topic(id: topicData.topicId) : metadataStore.topic(named: topicData.name)
            var partitionFutures: [EventLoopFuture<ProduceResponse.PartitionProduceResponse>] = []
            partitionFutures.reserveCapacity(topicData.partitionData.count)
            for partitionData in topicData.partitionData {
                guard let topic, let partition = replicas.partition(topic: topic.name, index: partitionData.index) else {
                    let code: ErrorCode = version >= 13 && topic == nil ? .unknownTopicId : .unknownTopicOrPartition
                    partitionFutures.append(loop.makeSucceededFuture(
                        partitionError(partitionData.index, code, message: nil)))

                    continue
                }
                partitionFutures.append(appendToPartition(partition, topic: topic, data: partitionData,
                                                          acks: request.acks, context: context))
            }
            let name = topicData.name
            let topicId = topicData.topicId
            topicFutures.append(EventLoopFuture.whenAllSucceed(partitionFutures, on: loop).map { partitions in
                var response = ProduceResponse.TopicProduceResponse()
                response.name = name
                response.topicId = topicId
                response.partitionResponses = partitions
                return response
            })
        }
        return EventLoopFuture.whenAllSucceed(topicFutures, on: loop).map { topics in
            var response = ProduceResponse()
            response.responses = topics
            response.throttleTimeMs = 0
            return response
        }
    }

    private func appendToPartition(_ partition: Partition, topic: TopicMetadata,
                                   data: ProduceRequest.PartitionProduceData, acks: Int16,
                                   context: HandlerRequest) -> EventLoopFuture<ProduceResponse.PartitionProduceResponse> {
        let index = data.index
        guard let records = data.records, records.readableBytes > 0 else {
            return context.eventLoop.makeSucceededFuture(partitionError(
                index, .corruptMessage, message: context.version >= 8 ? "Produce request carries no record batches" : nil))
        }
        let promise = context.eventLoop.makePromise(of: ProduceResponse.PartitionProduceResponse.self)
        partition.append(records: records) { result in
            switch result {
            case .success(let outcome):
                var response = ProduceResponse.PartitionProduceResponse()
                response.index = index
                response.errorCode = ErrorCode.none.rawValue
                response.baseOffset = outcome.baseOffset
                response.logAppendTimeMs = outcome.logAppendTime
                if context.version >= 5 { response.logStartOffset = outcome.logStartOffset }
                promise.succeed(response)
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
                promise.succeed(response)
            }
        }
        return promise.futureResult
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
