// DescribeProducers (producers' state per partition) and WriteTxnMarkers (transaction markers into
// partitions; InitProducerId and the other transaction APIs are TransactionRequests').
import KafkaProtocol
import NIOCore
import RunnelTransactions

extension BrokerCore {
    func describeProducers(_ request: DescribeProducersRequest, _ context: HandlerRequest) -> HandlerResult<DescribeProducersResponse> {
        var response = DescribeProducersResponse()
        response.topics = request.topics.map { topic in
            var result = DescribeProducersResponse.TopicResponse()
            result.name = topic.name
            result.partitions = topic.partitionIndexes.map { index in
                var answer = DescribeProducersResponse.PartitionResponse()
                answer.partitionIndex = index
                let partition: Partition
                switch leaderPartition(topic: topic.name, index: index) {
                case .success(let leading): partition = leading
                case .failure(let code):
                    answer.errorCode = code.rawValue
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

extension BrokerCore {
    /// WriteTxnMarkers: a transaction coordinator (this broker's in cluster mode, or `runnel txn abort`
    /// ending a hanging transaction) asks for COMMIT/ABORT markers in partitions this broker leads. Each
    /// marker goes through the same in-process path the local coordinator uses.
    func writeTxnMarkers(_ request: WriteTxnMarkersRequest, _ context: HandlerRequest) -> HandlerResult<WriteTxnMarkersResponse> {
        let promise = context.eventLoop.makePromise(of: WriteTxnMarkersResponse.self)
        let writer = markerWriter
        promise.completeWithTask {
            var response = WriteTxnMarkersResponse()
            for marker in request.markers {
                var result = WriteTxnMarkersResponse.WritableTxnMarkerResult()
                result.producerId = marker.producerId
                // One pass over the marker's partitions (they share an I/O round), answered in request order.
                let targets = marker.topics.flatMap { topic in
                    topic.partitionIndexes.map { TopicPartition(topic: topic.name, partition: $0) }
                }
                let codes = await writer.write(TransactionMarkers(
                    producerId: marker.producerId, producerEpoch: marker.producerEpoch,
                    coordinatorEpoch: marker.coordinatorEpoch, result: marker.transactionResult ? .commit : .abort,
                    partitions: Set(targets)))
                for topic in marker.topics {
                    var topicResult = WriteTxnMarkersResponse.WritableTxnMarkerTopicResult()
                    topicResult.name = topic.name
                    for index in topic.partitionIndexes {
                        var partitionResult = WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult()
                        partitionResult.partitionIndex = index
                        let code = codes[TopicPartition(topic: topic.name, partition: index)] ?? .unknownServerError
                        partitionResult.errorCode = code.rawValue
                        topicResult.partitions.append(partitionResult)
                    }
                    result.topics.append(topicResult)
                }
                response.markers.append(result)
            }
            return response
        }
        return .later(promise.futureResult)
    }
}
