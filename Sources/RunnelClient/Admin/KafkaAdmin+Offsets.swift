// Offsets of partitions: ListOffsets by time or position, DeleteRecords, sent to each partition's leader.
import KafkaProtocol

extension KafkaAdmin {
    /// The offset `spec` selects in each partition of `topic` (all partitions when `partitions` is nil).
    public func listOffsets(topic: String, partitions: [Int32]? = nil, spec: OffsetSpec,
                            isolation: IsolationLevel = .readUncommitted) async throws -> [PartitionOffset] {
        let metadata = try await client.topicMetadata(topic)
        let wanted = partitions ?? metadata.partitions.map(\.partition)
        var byLeader: [Int32: [Int32]] = [:]
        for partition in wanted {
            guard let entry = metadata.partitions.first(where: { $0.partition == partition }) else {
                throw KafkaClientError.broker(code: .unknownTopicOrPartition, context: "\(topic)-\(partition)",
                                              message: "topic '\(topic)' has \(metadata.partitionCount) partitions")
            }
            guard entry.leader >= 0 else { throw KafkaClientError.partitionUnavailable(topic: topic, partition: partition) }
            byLeader[entry.leader, default: []].append(partition)
        }
        var results: [PartitionOffset] = []
        for (leader, partitions) in byLeader {
            var request = ListOffsetsRequest()
            request.replicaId = -1
            request.isolationLevel = isolation.rawValue
            request.timeoutMs = operationTimeoutMilliseconds
            var requestTopic = ListOffsetsRequest.ListOffsetsTopic()
            requestTopic.name = topic
            requestTopic.partitions = partitions.map { index in
                var partition = ListOffsetsRequest.ListOffsetsPartition()
                partition.partitionIndex = index
                partition.currentLeaderEpoch = -1
                partition.timestamp = spec.timestampValue
                return partition
            }
            request.topics = [requestTopic]
            let response = try await client.connection(toBroker: leader).send(request)
            for responseTopic in response.topics {
                for partition in responseTopic.partitions {
                    try KafkaClientError.check(partition.errorCode, "list offsets of \(topic)-\(partition.partitionIndex)")
                    results.append(PartitionOffset(topic: topic, partition: partition.partitionIndex,
                                                   offset: partition.offset, timestamp: partition.timestamp,
                                                   leaderEpoch: partition.leaderEpoch))
                }
            }
        }
        return results.sorted { $0.partition < $1.partition }
    }

    /// The offset where a consumer positioned by `spec` starts reading in each partition of `topic`:
    /// ListOffsets's answer, except that a time after a partition's last record (ListOffsets: -1) is
    /// that partition's log end offset. `runnel group seek --to-timestamp` and `runnel replay` use it.
    public func startOffsets(topic: String, partitions: [Int32]? = nil, spec: OffsetSpec) async throws -> [Int32: Int64] {
        let found = try await listOffsets(topic: topic, partitions: partitions, spec: spec)
        var result: [Int32: Int64] = [:]
        for entry in found { result[entry.partition] = entry.offset }
        let missing = found.filter { $0.offset < 0 }.map(\.partition)
        if !missing.isEmpty {
            for entry in try await listOffsets(topic: topic, partitions: missing, spec: .latest) {
                result[entry.partition] = entry.offset
            }
        }
        return result
    }

    /// Deletes records before the given offsets (DeleteRecords); returns the new low watermarks.
    public func deleteRecords(topic: String, before offsets: [Int32: Int64]) async throws -> [Int32: Int64] {
        let metadata = try await client.topicMetadata(topic)
        var byLeader: [Int32: [Int32]] = [:]
        for partition in offsets.keys {
            guard let leader = metadata.partitions.first(where: { $0.partition == partition })?.leader, leader >= 0 else {
                throw KafkaClientError.partitionUnavailable(topic: topic, partition: partition)
            }
            byLeader[leader, default: []].append(partition)
        }
        var lowWatermarks: [Int32: Int64] = [:]
        for (leader, partitions) in byLeader {
            var request = DeleteRecordsRequest()
            request.timeoutMs = operationTimeoutMilliseconds
            var requestTopic = DeleteRecordsRequest.DeleteRecordsTopic()
            requestTopic.name = topic
            requestTopic.partitions = partitions.map { index in
                var partition = DeleteRecordsRequest.DeleteRecordsPartition()
                partition.partitionIndex = index
                partition.offset = offsets[index] ?? -1
                return partition
            }
            request.topics = [requestTopic]
            let response = try await client.connection(toBroker: leader).send(request)
            for responseTopic in response.topics {
                for partition in responseTopic.partitions {
                    try KafkaClientError.check(partition.errorCode, "delete records of \(topic)-\(partition.partitionIndex)")
                    lowWatermarks[partition.partitionIndex] = partition.lowWatermark
                }
            }
        }
        return lowWatermarks
    }
}
