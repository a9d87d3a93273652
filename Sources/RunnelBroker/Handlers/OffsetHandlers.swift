// ListOffsets, OffsetForLeaderEpoch and DeleteRecords: positions in a partition's log.
import KafkaProtocol
import NIOCore
import RunnelCluster

/// Kafka's special ListOffsets timestamps.
enum ListOffsetsTimestamp {
    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3
    static let earliestLocal: Int64 = -4
    static let latestTiered: Int64 = -5
    static let earliestPendingUpload: Int64 = -6
}

extension BrokerCore {
    func listOffsets(_ request: ListOffsetsRequest, _ context: HandlerRequest) -> HandlerResult<ListOffsetsResponse> {
        let isolation = IsolationLevel(wireValue: request.isolationLevel)
        var response = ListOffsetsResponse()
        response.topics = request.topics.map { topic in
            var result = ListOffsetsResponse.ListOffsetsTopicResponse()
            result.name = topic.name
            var seen = Set<Int32>()
            result.partitions = topic.partitions.map { requested in
                var answer = ListOffsetsResponse.ListOffsetsPartitionResponse()
                answer.partitionIndex = requested.partitionIndex
                answer.timestamp = -1
                answer.offset = -1
                answer.leaderEpoch = -1
                guard seen.insert(requested.partitionIndex).inserted else {
                    answer.errorCode = ErrorCode.invalidRequest.rawValue
                    return answer
                }
                let partition: Partition
                switch leaderPartition(topic: topic.name, index: requested.partitionIndex) {
                case .success(let leading): partition = leading
                case .failure(let code):
                    answer.errorCode = code.rawValue
                    return answer
                }
                if let code = partition.checkLeaderEpoch(requested.currentLeaderEpoch) {
                    answer.errorCode = code.rawValue
                    return answer
                }
                switch lookUpOffset(partition, timestamp: requested.timestamp, isolation: isolation) {
                case .success(let found):
                    answer.errorCode = ErrorCode.none.rawValue
                    if let found {
                        answer.offset = found.offset
                        answer.timestamp = found.timestamp
                        // Not ignorable: it only exists from v4 on.
                        if context.version >= 4 { answer.leaderEpoch = found.leaderEpoch }
                    }
                case .failure(let error):
                    answer.errorCode = error.errorCode.rawValue
                }
                return answer
            }
            return result
        }
        return .now(response)
    }

    private func lookUpOffset(_ partition: Partition, timestamp: Int64,
                              isolation: IsolationLevel) -> Result<TimestampAndOffset?, PartitionError> {
        let fetchableEnd = isolation == .readCommitted ? partition.lastStableOffset : partition.highWatermark
        switch timestamp {
        case ListOffsetsTimestamp.latest:
            return .success(TimestampAndOffset(timestamp: -1, offset: fetchableEnd, leaderEpoch: partition.leaderEpoch))
        case ListOffsetsTimestamp.earliest, ListOffsetsTimestamp.earliestLocal:
            return .success(TimestampAndOffset(timestamp: -1, offset: partition.logStartOffset,
                                               leaderEpoch: partition.leaderEpoch))
        case ListOffsetsTimestamp.latestTiered, ListOffsetsTimestamp.earliestPendingUpload:
            // No tiered storage: nothing is remote.
            return .success(TimestampAndOffset(timestamp: -1, offset: -1, leaderEpoch: -1))
        case ListOffsetsTimestamp.maxTimestamp:
            return partition.maxTimestampOffset()
        case let target where target >= 0:
            return partition.offset(forTimestamp: target).map { found in
                guard let found, found.offset < fetchableEnd else { return nil }
                return found
            }
        default:
            return .failure(PartitionError(.invalidRequest, "Unknown ListOffsets timestamp \(timestamp)"))
        }
    }

    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest,
                              _ context: HandlerRequest) -> HandlerResult<OffsetForLeaderEpochResponse> {
        var response = OffsetForLeaderEpochResponse()
        response.topics = request.topics.map { topic in
            var result = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult()
            result.topic = topic.topic
            result.partitions = topic.partitions.map { requested in
                var answer = OffsetForLeaderEpochResponse.EpochEndOffset()
                answer.partition = requested.partition
                answer.leaderEpoch = -1
                answer.endOffset = -1
                let partition: Partition
                switch leaderPartition(topic: topic.topic, index: requested.partition) {
                case .success(let leading): partition = leading
                case .failure(let code):
                    answer.errorCode = code.rawValue
                    return answer
                }
                if let code = partition.checkLeaderEpoch(requested.currentLeaderEpoch) {
                    answer.errorCode = code.rawValue
                    return answer
                }
                let (epoch, endOffset) = partition.endOffset(forLeaderEpoch: requested.leaderEpoch)
                answer.errorCode = ErrorCode.none.rawValue
                answer.leaderEpoch = epoch
                answer.endOffset = endOffset
                return answer
            }
            return result
        }
        return .now(response)
    }

    func deleteRecords(_ request: DeleteRecordsRequest, _ context: HandlerRequest) -> HandlerResult<DeleteRecordsResponse> {
        var response = DeleteRecordsResponse()
        response.topics = request.topics.map { topic in
            var result = DeleteRecordsResponse.DeleteRecordsTopicResult()
            result.name = topic.name
            result.partitions = topic.partitions.map { requested in
                var answer = DeleteRecordsResponse.DeleteRecordsPartitionResult()
                answer.partitionIndex = requested.partitionIndex
                answer.lowWatermark = -1
                let partition: Partition
                switch leaderPartition(topic: topic.name, index: requested.partitionIndex) {
                case .success(let leading): partition = leading
                case .failure(let code):
                    answer.errorCode = code.rawValue
                    return answer
                }
                guard !InternalTopics.contains(topic.name) else {
                    // As Kafka's ReplicaManager: internal topics are trimmed by their coordinators only.
                    answer.errorCode = ErrorCode.invalidTopicException.rawValue
                    return answer
                }
                // -1 means "up to the high watermark".
                let target = requested.offset == -1 ? partition.highWatermark : requested.offset
                guard target >= 0, target <= partition.highWatermark else {
                    answer.errorCode = ErrorCode.offsetOutOfRange.rawValue
                    return answer
                }
                switch partition.deleteRecords(before: target) {
                case .success(let lowWatermark):
                    answer.errorCode = ErrorCode.none.rawValue
                    answer.lowWatermark = lowWatermark
                case .failure(let error):
                    answer.errorCode = error.errorCode.rawValue
                }
                return answer
            }
            return result
        }
        return .now(response)
    }
}
