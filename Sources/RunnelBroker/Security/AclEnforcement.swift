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
        guard authorizationEnabled else { return await createTopics(message, request) }
        var allowed = message
        allowed.topics = message.topics.filter { mayCreateTopic($0.name, request) }
        var response = allowed.topics.isEmpty ? CreateTopicsResponse() : await createTopics(allowed, request)
        let permitted = Set(allowed.topics.map(\.name))
        for topic in message.topics where !permitted.contains(topic.name) {
            var result = CreateTopicsResponse.CreatableTopicResult()
            result.name = topic.name
            result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            result.errorMessage = "Authorization failed."
            response.topics.append(result)
        }
        return response
    }

    /// DeleteTopics: DELETE on each topic (by name, or by id resolved to its name).
    func authorizedDeleteTopics(_ message: DeleteTopicsRequest, _ request: HandlerRequest) async -> DeleteTopicsResponse {
        guard authorizationEnabled else { return await deleteTopics(message, request) }
        var allowed = message
        var denied: [DeleteTopicsResponse.DeletableTopicResult] = []
        func deny(_ name: String?, _ id: KafkaUUID) {
            var result = DeleteTopicsResponse.DeletableTopicResult()
            result.name = name
            result.topicId = id
            result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            result.errorMessage = "Authorization failed."
            denied.append(result)
        }
        allowed.topicNames = message.topicNames.filter { name in
            if request.allowed(self, .delete, .topic, name) { return true }
            deny(name, .zero)
            return false
        }
        allowed.topics = message.topics.filter { state in
            let name = state.name ?? metadataStore.topic(id: state.topicId)?.name
            guard let name else { return true }  // unknown id: the handler answers UNKNOWN_TOPIC_ID
            if request.allowed(self, .delete, .topic, name) { return true }
            deny(state.name, state.topicId)
            return false
        }
        var response = allowed.topicNames.isEmpty && allowed.topics.isEmpty
            ? DeleteTopicsResponse() : await deleteTopics(allowed, request)
        response.responses += denied
        return response
    }
}

/// A response whose whole answer is one top-level error code (a denied request answers only that).
protocol TopLevelErrorAnswer {
    init()
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

extension OffsetCommitResponse {
    /// Every partition of the request answered with `code`.
    static func denied(_ code: ErrorCode, _ request: OffsetCommitRequest) -> Self {
        var response = Self()
        response.topics = request.topics.map { topic in
            var result = OffsetCommitResponseTopic()
            result.name = topic.name
            result.topicId = topic.topicId
            result.partitions = topic.partitions.map { partition in
                var answer = OffsetCommitResponsePartition()
                answer.partitionIndex = partition.partitionIndex
                answer.errorCode = code.rawValue
                return answer
            }
            return result
        }
        return response
    }
}

extension BrokerCore {
    /// OffsetFetch: READ on each group (v8+ batches groups: the denied ones are answered apart).
    func authorizedOffsetFetch(_ groups: GroupRequests, _ message: OffsetFetchRequest,
                               _ request: HandlerRequest) async -> OffsetFetchResponse {
        guard authorizationEnabled else { return await groups.offsetFetch(message, version: request.version) }
        if request.version < 8 {
            guard let code = groupDenied(message.groupId, .read, request) else {
                return await groups.offsetFetch(message, version: request.version)
            }
            var response = OffsetFetchResponse()
            response.errorCode = code.rawValue
            response.topics = (message.topics ?? []).map { topic in
                var result = OffsetFetchResponse.OffsetFetchResponseTopic()
                result.name = topic.name
                result.partitions = topic.partitionIndexes.map { index in
                    var partition = OffsetFetchResponse.OffsetFetchResponsePartition()
                    partition.partitionIndex = index
                    partition.committedOffset = -1
                    partition.errorCode = code.rawValue
                    return partition
                }
                return result
            }
            return response
        }
        var allowed = message
        allowed.groups = message.groups.filter { groupDenied($0.groupId, .read, request) == nil }
        var response = allowed.groups.isEmpty ? OffsetFetchResponse()
            : await groups.offsetFetch(allowed, version: request.version)
        let permitted = Set(allowed.groups.map(\.groupId))
        for group in message.groups where !permitted.contains(group.groupId) {
            var result = OffsetFetchResponse.OffsetFetchResponseGroup()
            result.groupId = group.groupId
            result.errorCode = ErrorCode.groupAuthorizationFailed.rawValue
            response.groups.append(result)
        }
        return response
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
