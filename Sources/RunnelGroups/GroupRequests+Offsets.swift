// GroupRequests+Offsets: OffsetCommit, OffsetFetch (single and multi-group, topic names or ids) and
// OffsetDelete at the request level.
import KafkaProtocol
import NIOCore

extension GroupRequests {
    /// Answers OffsetCommit (v2-v10; v10 names topics by id).
    public func offsetCommit(_ request: OffsetCommitRequest, version: Int16) async -> OffsetCommitResponse {
        var entries: [OffsetCommitEntry] = []
        // Per topic and partition: the index of its entry, or the error found before committing.
        var plan: [[(index: Int?, error: ErrorCode)]] = []
        for topic in request.topics {
            let name = version >= 10 ? catalog.topicName(for: topic.topicId) : topic.name
            plan.append(topic.partitions.map { partition in
                guard let name else { return (nil, .unknownTopicId) }
                guard catalog.partitionExists(topic: name, partition: partition.partitionIndex) else {
                    return (nil, .unknownTopicOrPartition)
                }
                entries.append(OffsetCommitEntry(
                    partition: TopicPartition(topic: name, partition: partition.partitionIndex),
                    offset: partition.committedOffset,
                    leaderEpoch: version >= 6 ? partition.committedLeaderEpoch : -1,
                    metadata: partition.committedMetadata))
                return (entries.count - 1, .none)
            })
        }
        let results = await coordinator.commitOffsets(
            groupId: request.groupId, generationId: request.generationIdOrMemberEpoch, memberId: request.memberId,
            groupInstanceId: version >= 7 ? request.groupInstanceId : nil,
            retentionTimeMs: (2...4).contains(version) ? request.retentionTimeMs : -1, offsets: entries)
        var response = OffsetCommitResponse()
        response.topics = zip(request.topics, plan).map { topic, partitions in
            var entry = OffsetCommitResponse.OffsetCommitResponseTopic()
            if version >= 10 { entry.topicId = topic.topicId } else { entry.name = topic.name }
            entry.partitions = zip(topic.partitions, partitions).map { partition, outcome in
                var answer = OffsetCommitResponse.OffsetCommitResponsePartition()
                answer.partitionIndex = partition.partitionIndex
                let error = outcome.index.map { results.indices.contains($0) ? results[$0] : .unknownServerError }
                answer.errorCode = (error ?? outcome.error).rawValue
                return answer
            }
            return entry
        }
        return response
    }

    /// Answers OffsetFetch: one group (v1-v7) or several (v8+); topics by id from v10.
    public func offsetFetch(_ request: OffsetFetchRequest, version: Int16) async -> OffsetFetchResponse {
        var response = OffsetFetchResponse()
        if version < 8 {
            let wanted = request.topics.map { topics in
                topics.flatMap { topic in
                    topic.partitionIndexes.map { TopicPartition(topic: topic.name, partition: $0) }
                }
            }
            let result = await coordinator.fetchOffsets(groupId: request.groupId, partitions: wanted,
                                                        requireStable: version >= 7 && request.requireStable)
            if result.error != .none && version < 2 {
                // v1 has no group-level error: every requested partition carries it.
                response.topics = legacyTopics(
                    (wanted ?? []).map { ($0, nil, result.error) }, version: version)
            } else {
                response.errorCode = result.error.rawValue
                response.topics = legacyTopics(result.partitions, version: version)
            }
            return response
        }
        for group in request.groups {
            var answer = OffsetFetchResponse.OffsetFetchResponseGroup()
            answer.groupId = group.groupId
            var unknownIds: [KafkaUUID] = []
            let wanted = group.topics.map { topics in
                topics.flatMap { topic -> [TopicPartition] in
                    let name = version >= 10 ? catalog.topicName(for: topic.topicId) : topic.name
                    guard let name else {
                        unknownIds.append(topic.topicId)
                        return []
                    }
                    return topic.partitionIndexes.map { TopicPartition(topic: name, partition: $0) }
                }
            }
            let result = await coordinator.fetchOffsets(groupId: group.groupId, partitions: wanted,
                                                        requireStable: request.requireStable)
            answer.errorCode = result.error.rawValue
            answer.topics = groupedTopics(result.partitions, version: version)
            for topicId in unknownIds {
                let requested = group.topics?.first { $0.topicId == topicId }?.partitionIndexes ?? []
                var topic = OffsetFetchResponse.OffsetFetchResponseTopics()
                topic.topicId = topicId
                topic.partitions = requested.map { index in
                    var partition = OffsetFetchResponse.OffsetFetchResponsePartitions()
                    partition.partitionIndex = index
                    partition.committedOffset = -1
                    partition.errorCode = ErrorCode.unknownTopicId.rawValue
                    return partition
                }
                answer.topics.append(topic)
            }
            response.groups.append(answer)
        }
        return response
    }

    private typealias FetchedOffset = (partition: TopicPartition, offset: CommittedOffset?, error: ErrorCode)

    /// Groups fetched offsets by topic, keeping the order topics first appear in.
    private func byTopic(_ fetched: [FetchedOffset]) -> [(topic: String, partitions: [FetchedOffset])] {
        var order: [String] = []
        var grouped: [String: [FetchedOffset]] = [:]
        for item in fetched {
            if grouped[item.partition.topic] == nil { order.append(item.partition.topic) }
            grouped[item.partition.topic, default: []].append(item)
        }
        return order.map { ($0, grouped[$0] ?? []) }
    }

    private func legacyTopics(_ fetched: [FetchedOffset], version: Int16) -> [OffsetFetchResponse.OffsetFetchResponseTopic] {
        byTopic(fetched).map { topic, partitions in
            var entry = OffsetFetchResponse.OffsetFetchResponseTopic()
            entry.name = topic
            entry.partitions = partitions.map { item in
                var partition = OffsetFetchResponse.OffsetFetchResponsePartition()
                partition.partitionIndex = item.partition.partition
                partition.committedOffset = item.offset?.offset ?? -1
                partition.committedLeaderEpoch = version >= 5 ? (item.offset?.leaderEpoch ?? -1) : -1
                partition.metadata = item.offset?.metadata ?? ""
                partition.errorCode = item.error.rawValue
                return partition
            }
            return entry
        }
    }

    private func groupedTopics(_ fetched: [FetchedOffset], version: Int16) -> [OffsetFetchResponse.OffsetFetchResponseTopics] {
        byTopic(fetched).map { topic, partitions in
            var entry = OffsetFetchResponse.OffsetFetchResponseTopics()
            if version >= 10 { entry.topicId = catalog.topicId(for: topic) ?? .zero } else { entry.name = topic }
            entry.partitions = partitions.map { item in
                var partition = OffsetFetchResponse.OffsetFetchResponsePartitions()
                partition.partitionIndex = item.partition.partition
                partition.committedOffset = item.offset?.offset ?? -1
                partition.committedLeaderEpoch = item.offset?.leaderEpoch ?? -1
                partition.metadata = item.offset?.metadata ?? ""
                partition.errorCode = item.error.rawValue
                return partition
            }
            return entry
        }
    }

    /// Answers OffsetDelete.
    public func offsetDelete(_ request: OffsetDeleteRequest, version: Int16) async -> OffsetDeleteResponse {
        var known: [TopicPartition] = []
        for topic in request.topics {
            for partition in topic.partitions where catalog.partitionExists(topic: topic.name, partition: partition.partitionIndex) {
                known.append(TopicPartition(topic: topic.name, partition: partition.partitionIndex))
            }
        }
        let result = await coordinator.deleteOffsets(groupId: request.groupId, partitions: known)
        var response = OffsetDeleteResponse()
        response.errorCode = result.error.rawValue
        guard result.error == .none else { return response }
        var next = 0
        response.topics = request.topics.map { topic in
            var entry = OffsetDeleteResponse.OffsetDeleteResponseTopic()
            entry.name = topic.name
            entry.partitions = topic.partitions.map { partition in
                var answer = OffsetDeleteResponse.OffsetDeleteResponsePartition()
                answer.partitionIndex = partition.partitionIndex
                if catalog.partitionExists(topic: topic.name, partition: partition.partitionIndex) {
                    answer.errorCode = (result.partitions.indices.contains(next) ? result.partitions[next] : .none).rawValue
                    next += 1
                } else {
                    answer.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                }
                return answer
            }
            return entry
        }
        return response
    }
}
