// AclEnforcement: the checks Kafka makes before serving a request, with its *_AUTHORIZATION_FAILED
// codes, for the APIs whose handlers are wrapped here (topic admin, groups, producer ids, coordinators).
// Produce, Fetch and Metadata check inside their handlers.
import KafkaProtocol
import RunnelGroups

extension BrokerCore {
    /// GROUP_AUTHORIZATION_FAILED when the principal may not do `operation` on `group`.
    func groupDenied(_ group: String, _ operation: AclOperation, _ request: HandlerRequest) -> ErrorCode? {
        request.allowed(self, operation, .group, group) ? nil : .groupAuthorizationFailed
    }

    /// InitProducerId: WRITE on the transactional id, or an idempotent producer's IDEMPOTENT_WRITE.
    func initProducerIdDenied(_ message: InitProducerIdRequest, _ request: HandlerRequest) -> InitProducerIdResponse? {
        guard authorizationEnabled else { return nil }
        var response = InitProducerIdResponse()
        response.producerId = -1
        response.producerEpoch = -1
        if let id = message.transactionalId, !id.isEmpty {
            guard !request.allowed(self, .write, .transactionalId, id) else { return nil }
            response.errorCode = ErrorCode.transactionalIdAuthorizationFailed.rawValue
            return response
        }
        guard !mayWriteIdempotently(request) else { return nil }
        response.errorCode = ErrorCode.clusterAuthorizationFailed.rawValue
        return response
    }

    /// FindCoordinator: DESCRIBE on the group or transactional id of each key.
    func authorizeFindCoordinator(_ response: FindCoordinatorResponse, _ message: FindCoordinatorRequest,
                                  _ request: HandlerRequest) -> FindCoordinatorResponse {
        guard authorizationEnabled else { return response }
        let isTransaction = message.keyType == 1
        let type: AclResourceType = isTransaction ? .transactionalId : .group
        let code: ErrorCode = isTransaction ? .transactionalIdAuthorizationFailed : .groupAuthorizationFailed
        var response = response
        if request.version < 4 {
            if !request.allowed(self, .describe, type, message.key) {
                response.errorCode = code.rawValue
                response.errorMessage = nil
                response.nodeId = -1
                response.host = ""
                response.port = -1
            }
            return response
        }
        for index in response.coordinators.indices where !request.allowed(self, .describe, type, response.coordinators[index].key) {
            response.coordinators[index].errorCode = code.rawValue
            response.coordinators[index].errorMessage = nil
            response.coordinators[index].nodeId = -1
            response.coordinators[index].host = ""
            response.coordinators[index].port = -1
        }
        return response
    }

    /// CreateTopics: CREATE on the cluster or the topic; the others get TOPIC_AUTHORIZATION_FAILED.
    func authorizedCreateTopics(_ message: CreateTopicsRequest, _ request: HandlerRequest) async -> CreateTopicsResponse {
        await servePermitted(message, \.topics, answers: \.topics,
                             verdict: { mayCreateTopic($0.name, request) ? nil : .topicAuthorizationFailed },
                             answer: { .denied($0.name, $1) }) { await createTopics($0, request) }
    }

    /// DeleteTopics: DELETE on each topic (by name, or by id resolved to its name).
    func authorizedDeleteTopics(_ message: DeleteTopicsRequest, _ request: HandlerRequest) async -> DeleteTopicsResponse {
        func answer(_ name: String?, _ id: KafkaUUID, _ code: ErrorCode) -> DeleteTopicsResponse.DeletableTopicResult {
            var result = DeleteTopicsResponse.DeletableTopicResult()
            result.name = name
            result.topicId = id
            result.errorCode = code.rawValue
            result.errorMessage = "Authorization failed."
            return result
        }
        let deletable = denial(.delete, .topic, .topicAuthorizationFailed, request) { (name: String?) in name }
        return await servePermitted(message, \.topicNames, answers: \.responses, serveEmpty: true, verdict: { deletable($0) },
                                    answer: { answer($0, .zero, $1) }) { byName in
            await servePermitted(byName, \.topics, answers: \.responses, serveEmpty: true,
                                 verdict: { deletable($0.name ?? metadataStore.topic(id: $0.topicId)?.name) },
                                 answer: { answer($0.name, $0.topicId, $1) }) { permitted in
                permitted.topicNames.isEmpty && permitted.topics.isEmpty ? DeleteTopicsResponse() : await deleteTopics(permitted, request)
            }
        }
    }
}

/// A response whose whole answer is one top-level error code (a denied request answers only that).
protocol TopLevelErrorAnswer: EmptyAnswer {
    var errorCode: Int16 { get set }
}

extension TopLevelErrorAnswer {
    static func denied(_ code: ErrorCode) -> Self {
        var response = Self()
        response.errorCode = code.rawValue
        return response
    }
}

extension JoinGroupResponse {
    static func denied(_ code: ErrorCode) -> Self {
        var response = Self()
        response.errorCode = code.rawValue
        response.protocolName = nil
        return response
    }
}

extension SyncGroupResponse: TopLevelErrorAnswer {}

extension HeartbeatResponse: TopLevelErrorAnswer {}

extension LeaveGroupResponse: TopLevelErrorAnswer {}

extension OffsetCommitResponse: EmptyAnswer {
    /// Every partition of the request answered with `code`.
    static func denied(_ code: ErrorCode, _ request: OffsetCommitRequest) -> Self {
        var response = Self()
        response.topics = request.topics.map { topic in
            var result = OffsetCommitResponseTopic.denied(topic.name, topic.partitions.map(\.partitionIndex), code)
            result.topicId = topic.topicId
            return result
        }
        return response
    }
}

extension CreateTopicsResponse: EmptyAnswer {}

extension CreateTopicsResponse.CreatableTopicResult: TopicErrorAnswer {}

extension DeleteTopicsResponse: EmptyAnswer {}

extension OffsetFetchResponse: EmptyAnswer {}

extension OffsetFetchResponse.OffsetFetchResponseGroup: GroupErrorAnswer {}

extension OffsetFetchResponse.OffsetFetchResponseTopic: TopicPartitionsAnswer {}

extension OffsetFetchResponse.OffsetFetchResponsePartition: PartitionErrorAnswer {
    mutating func markFailed() { committedOffset = -1 }
}

extension OffsetFetchResponse.OffsetFetchResponseTopics: TopicPartitionsAnswer {}

extension OffsetFetchResponse.OffsetFetchResponsePartitions: PartitionErrorAnswer {
    mutating func markFailed() { committedOffset = -1 }
}

extension BrokerCore {
    /// OffsetFetch: DESCRIBE on each group (v8+ batches groups: the denied ones are answered apart),
    /// and DESCRIBE on each topic — a denied topic asked for by name is answered TOPIC_AUTHORIZATION_FAILED,
    /// and left out of an all-topics answer (Kafka's rules).
    func authorizedOffsetFetch(_ groups: GroupRequests, _ message: OffsetFetchRequest,
                               _ request: HandlerRequest) async -> OffsetFetchResponse {
        guard authorizationEnabled else { return await groups.offsetFetch(message, version: request.version) }
        let describable = denial(.describe, .topic, .topicAuthorizationFailed, request) { [self] (topic: (String, KafkaUUID)) in
            topicName(topic.0, topic.1)
        }
        if request.version < 8 {
            if let code = groupDenied(message.groupId, .describe, request) {
                var response = OffsetFetchResponse()
                response.errorCode = code.rawValue
                response.topics = (message.topics ?? []).map { .denied($0.name, $0.partitionIndexes, code) }
                return response
            }
            let part = permittedPart(message, \.requestedTopics, verdict: { describable(($0.name, .zero)) }) {
                OffsetFetchResponse.OffsetFetchResponseTopic.denied($0.name, $0.partitionIndexes, $1)
            }
            var response = await groups.offsetFetch(part.request, version: request.version)
            response.topics.removeAll { describable(($0.name, .zero)) != nil }  // of an all-topics answer
            response.topics += part.denied
            return response
        }
        var allowed = permittedPart(message, \.groups, verdict: { groupDenied($0.groupId, .describe, request) }) {
            OffsetFetchResponse.OffsetFetchResponseGroup.denied($0.groupId, $1)
        }
        var deniedTopics: [String: [OffsetFetchResponse.OffsetFetchResponseTopics]] = [:]
        for index in allowed.request.groups.indices {
            let part = permittedPart(allowed.request.groups[index], \.requestedTopics,
                                     verdict: { describable(($0.name, $0.topicId)) }) { topic, code in
                var answer = OffsetFetchResponse.OffsetFetchResponseTopics.denied(topic.name, topic.partitionIndexes, code)
                answer.topicId = topic.topicId
                return answer
            }
            allowed.request.groups[index] = part.request
            deniedTopics[part.request.groupId] = part.denied
        }
        var response = allowed.isEmpty ? OffsetFetchResponse() : await groups.offsetFetch(allowed.request, version: request.version)
        for index in response.groups.indices {
            response.groups[index].topics.removeAll { describable(($0.name, $0.topicId)) != nil }  // of an all-topics answer
            response.groups[index].topics += deniedTopics[response.groups[index].groupId] ?? []
        }
        response.groups += allowed.denied
        return response
    }
}

extension OffsetFetchRequest {
    /// The topics asked for by name (none when all are asked for: `topics` is null).
    var requestedTopics: [OffsetFetchRequestTopic] {
        get { topics ?? [] }
        set { if topics != nil { topics = newValue } }
    }
}

extension OffsetFetchRequest.OffsetFetchRequestGroup {
    /// The topics asked for by id or name (none when all are asked for: `topics` is null).
    var requestedTopics: [OffsetFetchRequest.OffsetFetchRequestTopics] {
        get { topics ?? [] }
        set { if topics != nil { topics = newValue } }
    }
}

extension BrokerCore {
    /// Metadata: topics the principal may not DESCRIBE are left out of an all-topics answer and
    /// answered TOPIC_AUTHORIZATION_FAILED when asked for by name.
    func authorizeMetadata(_ response: MetadataResponse, wantsAll: Bool, _ request: HandlerRequest) -> MetadataResponse {
        guard authorizationEnabled else { return response }
        var response = response
        if wantsAll {
            response.topics = response.topics.filter { topic in
                topic.name.map { request.allowed(self, .describe, .topic, $0) } ?? false
            }
            return response
        }
        for index in response.topics.indices {
            let name = response.topics[index].name ?? metadataStore.topic(id: response.topics[index].topicId)?.name
            guard let name, !request.allowed(self, .describe, .topic, name) else { continue }
            var denied = MetadataResponse.MetadataResponseTopic()
            denied.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            denied.name = response.topics[index].name
            denied.topicId = .zero
            response.topics[index] = denied
        }
        return response
    }

    /// Fetch: consumers need READ on each topic (denied partitions are answered
    /// TOPIC_AUTHORIZATION_FAILED); followers need CLUSTER_ACTION on the cluster.
    func authorizeFetch(_ plan: FetchPlan, _ message: FetchRequest, _ request: HandlerRequest) -> FetchPlan {
        guard authorizationEnabled else { return plan }
        let replicaId = request.version >= 15 ? message.replicaState.replicaId : message.replicaId
        var plan = plan
        var verdicts: [String: Bool] = [:]
        let clusterAction = replicaId >= 0 ? request.allowed(self, .clusterAction, .cluster, "kafka-cluster") : false
        plan.partitions = plan.partitions.filter { key, _ in
            let allowed: Bool
            if replicaId >= 0 {
                allowed = clusterAction
            } else if let known = verdicts[key.topic] {
                allowed = known
            } else {
                allowed = request.allowed(self, .read, .topic, key.topic)
                verdicts[key.topic] = allowed
            }
            if !allowed {
                var denied = FetchedPartition(key: key, topicId: metadataStore.topic(named: key.topic)?.topicId ?? .zero)
                denied.errorCode = .topicAuthorizationFailed
                plan.unresolved.append(denied)
            }
            return allowed
        }
        return plan
    }

    /// Produce: WRITE on each topic, and on the transactional id of a transactional request.
    func produceWriteAllowed(topic: String, _ request: HandlerRequest) -> Bool {
        !authorizationEnabled || request.allowed(self, .write, .topic, topic)
    }

    func transactionalProduceAllowed(_ transactionalId: String, _ request: HandlerRequest) -> Bool {
        !authorizationEnabled || request.allowed(self, .write, .transactionalId, transactionalId)
    }
}
