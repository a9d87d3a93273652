// ApiVersions, Metadata and DescribeCluster: how clients discover this broker and its topics.
import KafkaProtocol
import NIOCore
import RunnelCluster

extension BrokerCore {
    func apiVersions(_ request: ApiVersionsRequest, _ context: HandlerRequest) -> HandlerResult<ApiVersionsResponse> {
        var response = ApiVersionsResponse()
        response.errorCode = ErrorCode.none.rawValue
        response.apiKeys = SupportedApis.apiVersionEntries()
        response.throttleTimeMs = 0
        return .now(response)
    }

    func metadata(_ request: MetadataRequest, _ context: HandlerRequest) -> HandlerResult<MetadataResponse> {
        var response = MetadataResponse()
        response.brokers = [selfBroker()]
        response.clusterId = metadataStore.clusterId
        response.controllerId = settings.nodeId
        let allowAutoCreate = request.allowAutoTopicCreation && settings.autoCreateTopics

        // v0 sends an empty list for "all topics"; v1+ sends null for that and empty for none.
        let wantsAll = request.topics == nil || (context.version == 0 && request.topics?.isEmpty == true)
        if wantsAll {
            response.topics = metadataStore.topics().map { topicMetadata($0) }
        } else {
            for requested in request.topics ?? [] {
                response.topics.append(resolveTopic(requested, allowAutoCreate: allowAutoCreate, context: context))
            }
        }
        return .now(response)
    }

    func describeCluster(_ request: DescribeClusterRequest, _ context: HandlerRequest) -> HandlerResult<DescribeClusterResponse> {
        var response = DescribeClusterResponse()
        response.clusterId = metadataStore.clusterId
        response.controllerId = settings.nodeId
        // EndpointType 1 = brokers, 2 = controllers; this node is both.
        response.endpointType = request.endpointType
        var broker = DescribeClusterResponse.DescribeClusterBroker()
        broker.brokerId = settings.nodeId
        broker.host = settings.advertisedHost
        broker.port = settings.advertisedPort
        broker.rack = nil
        broker.isFenced = false
        response.brokers = [broker]
        return .now(response)
    }

    private func resolveTopic(_ requested: MetadataRequest.MetadataRequestTopic, allowAutoCreate: Bool,
                              context: HandlerRequest) -> MetadataResponse.MetadataResponseTopic {
        if let name = requested.name {
            if let topic = metadataStore.topic(named: name) { return topicMetadata(topic) }
            if let reason = TopicMetadata.invalidNameReason(name) {
                context.context.logger.debug("metadata for invalid topic name", metadata: ["reason": "\(reason)"])
                return errorTopic(name: name, id: .zero, code: .invalidTopicException)
            }
            guard allowAutoCreate, !name.hasPrefix("__") else {
                return errorTopic(name: name, id: .zero, code: .unknownTopicOrPartition)
            }
            do {
                let created = try createTopic(name: name, partitions: settings.defaultPartitions,
                                              replicationFactor: 1, configs: [:], logger: context.context.logger)
                return topicMetadata(created)
            } catch {
                // Lost a race with another creator: answer with what exists now.
                if let topic = metadataStore.topic(named: name) { return topicMetadata(topic) }
                return errorTopic(name: name, id: .zero, code: error.errorCode)
            }
        }
        if let topic = metadataStore.topic(id: requested.topicId) { return topicMetadata(topic) }
        return errorTopic(name: nil, id: requested.topicId, code: .unknownTopicId)
    }

    func selfBroker() -> MetadataResponse.MetadataResponseBroker {
        var broker = MetadataResponse.MetadataResponseBroker()
        broker.nodeId = settings.nodeId
        broker.host = settings.advertisedHost
        broker.port = settings.advertisedPort
        broker.rack = nil
        return broker
    }

    func topicMetadata(_ topic: TopicMetadata) -> MetadataResponse.MetadataResponseTopic {
        var result = MetadataResponse.MetadataResponseTopic()
        result.errorCode = ErrorCode.none.rawValue
        result.name = topic.name
        result.topicId = topic.topicId
        result.isInternal = topic.isInternal
        result.partitions = (0..<topic.partitionCount).map { index in
            var partition = MetadataResponse.MetadataResponsePartition()
            let state = replicas.partition(topic: topic.name, index: index)
            partition.errorCode = (state == nil ? ErrorCode.leaderNotAvailable : ErrorCode.none).rawValue
            partition.partitionIndex = index
            partition.leaderId = settings.nodeId
            partition.leaderEpoch = state?.leaderEpoch ?? 0
            partition.replicaNodes = [settings.nodeId]
            partition.isrNodes = [settings.nodeId]
            partition.offlineReplicas = []
            return partition
        }
        return result
    }

    private func errorTopic(name: String?, id: KafkaUUID, code: ErrorCode) -> MetadataResponse.MetadataResponseTopic {
        var result = MetadataResponse.MetadataResponseTopic()
        result.errorCode = code.rawValue
        result.name = name
        result.topicId = id
        return result
    }
}
