// AclEnforcement+Admin: Kafka's checks for offsets, configs, partitions, records, group listings and
// transaction steps. Read-only APIs are answered, then their denied entries replaced; APIs that
// change state only ever see the permitted part of the request.
import KafkaProtocol
import NIOCore
import RunnelGroups
import RunnelTransactions

extension HandlerResult {
    /// The same answer passed through `transform`.
    func map(_ transform: @escaping @Sendable (Response) -> Response) -> HandlerResult<Response> {
        switch self {
        case .now(let response): return .now(transform(response))
        case .later(let future): return .later(future.map(transform))
        }
    }
}

extension BrokerCore {
    /// The ACL resource of a config resource: topics by name, brokers and loggers as the cluster.
    private func configResource(_ type: Int8, _ name: String) -> (AclResourceType, String) {
        type == 2 ? (.topic, name) : (.cluster, "kafka-cluster")
    }

    private func configDenied(_ type: Int8, _ name: String, _ operation: AclOperation, _ request: HandlerRequest) -> ErrorCode? {
        let (resourceType, resourceName) = configResource(type, name)
        guard !request.allowed(self, operation, resourceType, resourceName) else { return nil }
        return resourceType == .topic ? .topicAuthorizationFailed : .clusterAuthorizationFailed
    }

    /// ListOffsets: DESCRIBE on each topic.
    func authorizedListOffsets(_ message: ListOffsetsRequest, _ request: HandlerRequest) -> HandlerResult<ListOffsetsResponse> {
        let result = listOffsets(message, request)
        guard authorizationEnabled else { return result }
        let denied = Set(message.topics.map(\.name).filter { !request.allowed(self, .describe, .topic, $0) })
        guard !denied.isEmpty else { return result }
        return result.map { response in
            var response = response
            for topic in response.topics.indices where denied.contains(response.topics[topic].name) {
                for partition in response.topics[topic].partitions.indices {
                    response.topics[topic].partitions[partition].errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                    response.topics[topic].partitions[partition].offset = -1
                    response.topics[topic].partitions[partition].timestamp = -1
                }
            }
            return response
        }
    }

    /// DescribeConfigs: DESCRIBE_CONFIGS on each topic, or on the cluster for brokers.
    func authorizedDescribeConfigs(_ message: DescribeConfigsRequest,
                                   _ request: HandlerRequest) -> HandlerResult<DescribeConfigsResponse> {
        let result = describeConfigs(message, request)
        guard authorizationEnabled else { return result }
        var denied: [String: ErrorCode] = [:]
        for resource in message.resources {
            if let code = configDenied(resource.resourceType, resource.resourceName, .describeConfigs, request) {
                denied["\(resource.resourceType)/\(resource.resourceName)"] = code
            }
        }
        guard !denied.isEmpty else { return result }
        let deniedResources = denied
        return result.map { response in
            var response = response
            for index in response.results.indices {
                let key = "\(response.results[index].resourceType)/\(response.results[index].resourceName)"
                guard let code = deniedResources[key] else { continue }
                response.results[index].errorCode = code.rawValue
                response.results[index].errorMessage = "Authorization failed."
                response.results[index].configs = []
            }
            return response
        }
    }

    /// AlterConfigs: ALTER_CONFIGS on each resource; denied ones are not applied.
    func authorizedAlterConfigs(_ message: AlterConfigsRequest, _ request: HandlerRequest) async -> AlterConfigsResponse {
        guard authorizationEnabled else { return await alterConfigs(message, request) }
        var allowed = message
        var denied: [AlterConfigsResponse.AlterConfigsResourceResponse] = []
        allowed.resources = message.resources.filter { resource in
            guard let code = configDenied(resource.resourceType, resource.resourceName, .alterConfigs, request) else { return true }
            denied.append(.init(resourceType: resource.resourceType, resourceName: resource.resourceName,
                                outcome: (code, "Authorization failed.")))
            return false
        }
        var response = allowed.resources.isEmpty ? AlterConfigsResponse() : await alterConfigs(allowed, request)
        response.responses += denied
        return response
    }

    /// IncrementalAlterConfigs: ALTER_CONFIGS on each resource; denied ones are not applied.
    func authorizedIncrementalAlterConfigs(_ message: IncrementalAlterConfigsRequest,
                                           _ request: HandlerRequest) async -> IncrementalAlterConfigsResponse {
        guard authorizationEnabled else { return await incrementalAlterConfigs(message, request) }
        var allowed = message
        var denied: [IncrementalAlterConfigsResponse.AlterConfigsResourceResponse] = []
        allowed.resources = message.resources.filter { resource in
            guard let code = configDenied(resource.resourceType, resource.resourceName, .alterConfigs, request) else { return true }
            denied.append(.init(resourceType: resource.resourceType, resourceName: resource.resourceName,
                                outcome: (code, "Authorization failed.")))
            return false
        }
        var response = allowed.resources.isEmpty ? IncrementalAlterConfigsResponse()
            : await incrementalAlterConfigs(allowed, request)
        response.responses += denied
        return response
    }

    /// CreatePartitions: ALTER on each topic.
    func authorizedCreatePartitions(_ message: CreatePartitionsRequest,
                                    _ request: HandlerRequest) async -> CreatePartitionsResponse {
        guard authorizationEnabled else { return await createPartitions(message, request) }
        var allowed = message
        var denied: [CreatePartitionsResponse.CreatePartitionsTopicResult] = []
        allowed.topics = message.topics.filter { topic in
            if request.allowed(self, .alter, .topic, topic.name) { return true }
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult()
            result.name = topic.name
            result.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
            result.errorMessage = "Authorization failed."
            denied.append(result)
            return false
        }
        var response = allowed.topics.isEmpty ? CreatePartitionsResponse() : await createPartitions(allowed, request)
        response.results += denied
        return response
    }

    /// DeleteRecords: DELETE on each topic.
    func authorizedDeleteRecords(_ message: DeleteRecordsRequest, _ request: HandlerRequest) -> HandlerResult<DeleteRecordsResponse> {
        guard authorizationEnabled else { return deleteRecords(message, request) }
        var allowed = message
        var denied: [DeleteRecordsResponse.DeleteRecordsTopicResult] = []
        allowed.topics = message.topics.filter { topic in
            if request.allowed(self, .delete, .topic, topic.name) { return true }
            var result = DeleteRecordsResponse.DeleteRecordsTopicResult()
            result.name = topic.name
            result.partitions = topic.partitions.map { partition in
                var answer = DeleteRecordsResponse.DeleteRecordsPartitionResult()
                answer.partitionIndex = partition.partitionIndex
                answer.lowWatermark = -1
                answer.errorCode = ErrorCode.topicAuthorizationFailed.rawValue
                return answer
            }
            denied.append(result)
            return false
        }
        let deniedTopics = denied
        guard !allowed.topics.isEmpty else {
            var response = DeleteRecordsResponse()
            response.topics = deniedTopics
            return .now(response)
        }
        return deleteRecords(allowed, request).map { response in
            var response = response
            response.topics += deniedTopics
            return response
        }
    }

    /// DescribeGroups: DESCRIBE on each group.
    func authorizedDescribeGroups(_ groups: GroupRequests, _ message: DescribeGroupsRequest,
                                  _ request: HandlerRequest) async -> DescribeGroupsResponse {
        var response = await groups.describeGroups(message, version: request.version)
        guard authorizationEnabled else { return response }
        for index in response.groups.indices where groupDenied(response.groups[index].groupId, .describe, request) != nil {
            var denied = DescribeGroupsResponse.DescribedGroup()
            denied.groupId = response.groups[index].groupId
            denied.errorCode = ErrorCode.groupAuthorizationFailed.rawValue
            response.groups[index] = denied
        }
        return response
    }

    /// ListGroups: only groups the principal may DESCRIBE.
    func authorizedListGroups(_ groups: GroupRequests, _ message: ListGroupsRequest,
                              _ request: HandlerRequest) async -> ListGroupsResponse {
        var response = await groups.listGroups(message, version: request.version)
        guard authorizationEnabled else { return response }
        response.groups = response.groups.filter { request.allowed(self, .describe, .group, $0.groupId) }
        return response
    }

    /// DeleteGroups: DELETE on each group.
    func authorizedDeleteGroups(_ groups: GroupRequests, _ message: DeleteGroupsRequest,
                                _ request: HandlerRequest) async -> DeleteGroupsResponse {
        guard authorizationEnabled else { return await groups.deleteGroups(message, version: request.version) }
        var allowed = message
        allowed.groupsNames = message.groupsNames.filter { groupDenied($0, .delete, request) == nil }
        var response = allowed.groupsNames.isEmpty ? DeleteGroupsResponse()
            : await groups.deleteGroups(allowed, version: request.version)
        for name in message.groupsNames where !allowed.groupsNames.contains(name) {
            var result = DeleteGroupsResponse.DeletableGroupResult()
            result.groupId = name
            result.errorCode = ErrorCode.groupAuthorizationFailed.rawValue
            response.results.append(result)
        }
        return response
    }

    /// EndTxn and AddOffsetsToTxn: WRITE on the transactional id (AddOffsetsToTxn also READ on the group).
    func transactionDenied(_ transactionalId: String, group: String? = nil, _ request: HandlerRequest) -> ErrorCode? {
        guard authorizationEnabled else { return nil }
        if !request.allowed(self, .write, .transactionalId, transactionalId) { return .transactionalIdAuthorizationFailed }
        if let group, !request.allowed(self, .read, .group, group) { return .groupAuthorizationFailed }
        return nil
    }
}

extension EndTxnResponse: TopLevelErrorAnswer {}

extension AddOffsetsToTxnResponse: TopLevelErrorAnswer {}
