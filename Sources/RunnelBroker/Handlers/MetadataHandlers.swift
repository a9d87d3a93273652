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
        if context.version >= 3 {
            // The one feature clients act on: transaction.version (Kafka 4.x clients use transactions v2
            // when its finalized level is 2).
            var supported = ApiVersionsResponse.SupportedFeatureKey()
            supported.name = "transaction.version"
            supported.minVersion = 0
            supported.maxVersion = 2
            response.supportedFeatures = [supported]
            var finalized = ApiVersionsResponse.FinalizedFeatureKey()
            finalized.name = "transaction.version"
            finalized.minVersionLevel = settings.transactionVersion
            finalized.maxVersionLevel = settings.transactionVersion
            response.finalizedFeatures = [finalized]
            response.finalizedFeaturesEpoch = settings.finalizedFeaturesEpoch
        }
        return .now(response)
    }

    /// Answers from one metadata image: every live broker, the controller, and each partition's leader,
    /// leader epoch, replicas, ISR and offline replicas as the store holds them. A request that must
    /// auto-create topics (a metadata write) is answered off the event loop, on the connection's lane.
    func metadata(_ request: MetadataRequest, _ context: HandlerRequest) -> HandlerResult<MetadataResponse> {
        let allowAutoCreate = request.allowAutoTopicCreation && settings.autoCreateTopics
        // v0 sends an empty list for "all topics"; v1+ sends null for that and empty for none.
        let wantsAll = request.topics == nil || (context.version == 0 && request.topics?.isEmpty == true)
        let image = metadataStore.image
        let creates = !wantsAll && allowAutoCreate && (request.topics ?? []).contains { requested in
            guard let name = requested.name else { return false }
            return image.topic(resolving: name) == nil && TopicMetadata.invalidNameReason(name) == nil && !name.hasPrefix("__")
                && mayCreateTopic(name, context)
        }
        let listener = context.context.listenerName
        clientTopicIds.noteAnswers(names: wantsAll ? nil : (request.topics ?? []).compactMap(\.name), image: image, context)
        guard creates else {
            return .now(authorizeMetadata(metadataResponse(request, image: image, wantsAll: wantsAll, listener: listener),
                                          wantsAll: wantsAll, context))
        }
        return .later(context.context.lane.submit(on: context.eventLoop) { [self] in
            // Several at once, as CreateTopics (a consumer subscribing to many new topics asks for all of them).
            let image = metadataStore.image
            let names = Array(Set((request.topics ?? []).compactMap(\.name).filter { name in
                image.topic(resolving: name) == nil && TopicMetadata.invalidNameReason(name) == nil && !name.hasPrefix("__")
                    && mayCreateTopic(name, context)
            }))
            let logger = context.context.logger
            let outcomes = await names.orderedConcurrentMap(limit: Self.topicChangeConcurrency) { [self] name -> ErrorCode? in
                do throws(TopicCreationError) {
                    _ = try await createTopic(name: name, partitions: settings.defaultPartitions,
                                              replicationFactor: settings.defaultReplicationFactor, configs: [:], logger: logger)
                    return nil
                } catch {
                    // Lost a race with another creator (answered from what exists now), or the creation failed.
                    return error.errorCode
                }
            }
            var failures: [String: ErrorCode] = [:]
            for (name, outcome) in zip(names, outcomes) { failures[name] = outcome }
            return authorizeMetadata(metadataResponse(request, image: metadataStore.image, wantsAll: wantsAll,
                                                      createFailures: failures, listener: listener),
                                     wantsAll: wantsAll, context)
        })
    }

    private func metadataResponse(_ request: MetadataRequest, image: MetadataImage, wantsAll: Bool,
                                  createFailures: [String: ErrorCode] = [:], listener: String) -> MetadataResponse {
        var response = MetadataResponse()
        response.brokers = image.liveBrokers.compactMap { metadataBroker($0, listener: listener) }
        response.clusterId = image.clusterId
        response.controllerId = image.controller?.nodeId ?? -1
        let live = Set(image.brokers.keys)
        if wantsAll {
            response.topics = image.topics.values.sorted { $0.metadata.name < $1.metadata.name }.map { topicMetadata($0, live: live) }
        } else {
            for requested in request.topics ?? [] {
                let missing = requested.name.flatMap { createFailures[$0] } ?? .unknownTopicOrPartition
                response.topics.append(resolveTopic(requested, image: image, live: live, missingCode: missing))
            }
        }
        return response
    }

    func describeCluster(_ request: DescribeClusterRequest, _ context: HandlerRequest) -> HandlerResult<DescribeClusterResponse> {
        let image = metadataStore.image
        var response = DescribeClusterResponse()
        response.clusterId = image.clusterId
        response.controllerId = image.controller?.nodeId ?? -1
        // EndpointType 1 = brokers, 2 = controllers; every broker can be elected controller.
        response.endpointType = request.endpointType
        response.brokers = image.liveBrokers.compactMap { registration in
            guard let endpoint = registration.endpoint(forListener: context.context.listenerName) else { return nil }
            var broker = DescribeClusterResponse.DescribeClusterBroker()
            broker.brokerId = registration.nodeId
            broker.host = endpoint.host
            broker.port = endpoint.port
            broker.rack = registration.rack
            broker.isFenced = false
            return broker
        }
        return .now(response)
    }

    private func resolveTopic(_ requested: MetadataRequest.MetadataRequestTopic, image: MetadataImage, live: Set<Int32>,
                              missingCode: ErrorCode) -> MetadataResponse.MetadataResponseTopic {
        if let name = requested.name {
            if let topic = image.topic(resolving: name) {
                // An alias answers with its target's partitions and topic id, under the name the client used.
                var answer = topicMetadata(topic, live: live)
                answer.name = name
                return answer
            }
            if TopicMetadata.invalidNameReason(name) != nil {
                return errorTopic(name: name, id: .zero, code: .invalidTopicException)
            }
            return errorTopic(name: name, id: .zero, code: name.hasPrefix("__") ? .unknownTopicOrPartition : missingCode)
        }
        if let topic = image.topic(id: requested.topicId) { return topicMetadata(topic, live: live) }
        return errorTopic(name: nil, id: requested.topicId, code: .unknownTopicId)
    }

    private func metadataBroker(_ registration: BrokerRegistration, listener: String) -> MetadataResponse.MetadataResponseBroker? {
        guard let endpoint = registration.endpoint(forListener: listener) else { return nil }
        var broker = MetadataResponse.MetadataResponseBroker()
        broker.nodeId = registration.nodeId
        broker.host = endpoint.host
        broker.port = endpoint.port
        broker.rack = registration.rack
        return broker
    }

    func topicMetadata(_ topic: TopicImage, live: Set<Int32>) -> MetadataResponse.MetadataResponseTopic {
        var result = MetadataResponse.MetadataResponseTopic()
        result.errorCode = ErrorCode.none.rawValue
        result.name = topic.metadata.name
        result.topicId = topic.metadata.topicId
        result.isInternal = topic.metadata.isInternal
        result.partitions = topic.partitions.enumerated().map { index, state in
            var partition = MetadataResponse.MetadataResponsePartition()
            // A leader that is not live, or — when the store names this broker — a partition whose log is not
            // open or that this broker does not lead right now (not applied yet, or fenced after losing its
            // registration), is unavailable: the client asks another broker for fresher metadata.
            let local = state.leader == settings.nodeId || state.replicas.contains(settings.nodeId)
                ? replicas.partition(topic: topic.metadata.name, index: Int32(index)) : nil
            let leaderAvailable = live.contains(state.leader)
                && (state.leader != settings.nodeId || (local.map { $0.leaderCheck() == nil } ?? false))
            partition.errorCode = (leaderAvailable ? ErrorCode.none : ErrorCode.leaderNotAvailable).rawValue
            partition.partitionIndex = Int32(index)
            partition.leaderId = state.leader == settings.nodeId && !leaderAvailable ? PartitionState.noLeader : state.leader
            partition.leaderEpoch = state.leaderEpoch
            partition.replicaNodes = state.replicas
            partition.isrNodes = state.isr
            var offline = state.offlineReplicas(liveBrokers: live)
            // This broker's own replica is offline when its log dir is (a full or failed disk).
            if let local, local.log.offlineReason != nil, !offline.contains(settings.nodeId) { offline.append(settings.nodeId) }
            partition.offlineReplicas = offline
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
