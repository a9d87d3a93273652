// InitProducerId and DescribeProducers: producer ids for idempotent producers and their state.
import KafkaProtocol
import NIOCore

extension BrokerCore {
    func initProducerId(_ request: InitProducerIdRequest, _ context: HandlerRequest) -> HandlerResult<InitProducerIdResponse> {
        var response = InitProducerIdResponse()
        response.producerId = -1
        response.producerEpoch = -1
        guard request.transactionalId == nil else {
            // Transactions are not served yet; the client fails fast instead of retrying forever.
            response.errorCode = ErrorCode.transactionalIdAuthorizationFailed.rawValue
            return .now(response)
        }
        // Without a transactional id Kafka always hands out a fresh producer id with epoch 0, also
        // when the client asks to bump the epoch of its old id (KIP-360).
        do {
            response.producerId = try metadataStore.nextProducerId()
            response.producerEpoch = 0
            response.errorCode = ErrorCode.none.rawValue
        } catch {
            context.context.logger.error("could not allocate a producer id", metadata: ["error": "\(error)"])
            response.errorCode = ErrorCode.coordinatorNotAvailable.rawValue
        }
        return .now(response)
    }

    func describeProducers(_ request: DescribeProducersRequest, _ context: HandlerRequest) -> HandlerResult<DescribeProducersResponse> {
        var response = DescribeProducersResponse()
        response.topics = request.topics.map { topic in
            var result = DescribeProducersResponse.TopicResponse()
            result.name = topic.name
            result.partitions = topic.partitionIndexes.map { index in
                var answer = DescribeProducersResponse.PartitionResponse()
                answer.partitionIndex = index
                guard let partition = replicas.partition(topic: topic.name, index: index) else {
                    answer.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                    return answer
                }
                answer.errorCode = ErrorCode.none.rawValue
                answer.activeProducers = partition.activeProducers().map { producer in
                    var state = DescribeProducersResponse.ProducerState()
                    state.producerId = producer.producerId
                    state.producerEpoch = Int32(producer.producerEpoch)
                    state.lastSequence = producer.lastSequence
                    state.lastTimestamp = producer.lastTimestamp
                    state.coordinatorEpoch = producer.coordinatorEpoch
                    state.currentTxnStartOffset = producer.currentTransactionStartOffset ?? -1
                    return state
                }
                return answer
            }
            return result
        }
        return .now(response)
    }
}
