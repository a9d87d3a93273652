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
        servePermitted(message, \.topics, answers: \.topics,
                       verdict: denial(.describe, .topic, .topicAuthorizationFailed, request) { $0.name },
                       answer: { .denied($0.name, $0.partitions.map(\.partitionIndex), $1) }) { listOffsets($0, request) }
    }

    /// DescribeConfigs: DESCRIBE_CONFIGS on each topic, or on the cluster for brokers.
    func authorizedDescribeConfigs(_ message: DescribeConfigsRequest,
                                   _ request: HandlerRequest) -> HandlerResult<DescribeConfigsResponse> {
        servePermitted(message, \.resources, answers: \.results,
                       verdict: { configDenied($0.resourceType, $0.resourceName, .describeConfigs, request) },
                       answer: { resource, code in
                           var result = DescribeConfigsResponse.DescribeConfigsResult()
                           result.resourceType = resource.resourceType
                           result.resourceName = resource.resourceName
                           result.errorCode = code.rawValue
                           result.errorMessage = "Authorization failed."
                           return result
                       }) { describeConfigs($0, request) }
    }

    /// AlterConfigs: ALTER_CONFIGS on each resource; denied ones are not applied.
    func authorizedAlterConfigs(_ message: AlterConfigsRequest, _ request: HandlerRequest) async -> AlterConfigsResponse {
        await servePermitted(message, \.resources, answers: \.responses,
                             verdict: { configDenied($0.resourceType, $0.resourceName, .alterConfigs, request) },
                             answer: { .init(resourceType: $0.resourceType, resourceName: $0.resourceName,
                                             outcome: ($1, "Authorization failed.")) }) { await alterConfigs($0, request) }
    }

    /// IncrementalAlterConfigs: ALTER_CONFIGS on each resource; denied ones are not applied.
    func authorizedIncrementalAlterConfigs(_ message: IncrementalAlterConfigsRequest,
                                           _ request: HandlerRequest) async -> IncrementalAlterConfigsResponse {
        await servePermitted(message, \.resources, answers: \.responses,
                             verdict: { configDenied($0.resourceType, $0.resourceName, .alterConfigs, request) },
                             answer: { .init(resourceType: $0.resourceType, resourceName: $0.resourceName,
                                             outcome: ($1, "Authorization failed.")) }) { await incrementalAlterConfigs($0, request) }
    }

    /// CreatePartitions: ALTER on each topic.
    func authorizedCreatePartitions(_ message: CreatePartitionsRequest,
                                    _ request: HandlerRequest) async -> CreatePartitionsResponse {
        await servePermitted(message, \.topics, answers: \.results,
                             verdict: denial(.alter, .topic, .topicAuthorizationFailed, request) { $0.name },
                             answer: { .denied($0.name, $1) }) { await createPartitions($0, request) }
    }

    /// DeleteRecords: DELETE on each topic.
    func authorizedDeleteRecords(_ message: DeleteRecordsRequest, _ request: HandlerRequest) -> HandlerResult<DeleteRecordsResponse> {
        servePermitted(message, \.topics, answers: \.topics,
                       verdict: denial(.delete, .topic, .topicAuthorizationFailed, request) { $0.name },
                       answer: { .denied($0.name, $0.partitions.map(\.partitionIndex), $1) }) { deleteRecords($0, request) }
    }

    /// DescribeGroups: DESCRIBE on each group; `authorized_operations` (v3+, when asked) as Kafka computes it.
    func authorizedDescribeGroups(_ groups: GroupRequests, _ message: DescribeGroupsRequest,
                                  _ request: HandlerRequest) async -> DescribeGroupsResponse {
        var response = await servePermitted(message, \.groups, answers: \.groups,
                                            verdict: { groupDenied($0, .describe, request) },
                                            answer: { .denied($0, $1) }) { await groups.describeGroups($0, version: request.version) }
        guard request.version >= 3, message.includeAuthorizedOperations else { return response }
        for index in response.groups.indices where response.groups[index].errorCode == ErrorCode.none.rawValue {
            response.groups[index].authorizedOperations = authorizedOperations(.group, response.groups[index].groupId, request)
        }
        return response
    }

    /// ListGroups: every group with DESCRIBE on the cluster, else only groups the principal may DESCRIBE.
    func authorizedListGroups(_ groups: GroupRequests, _ message: ListGroupsRequest,
                              _ request: HandlerRequest) async -> ListGroupsResponse {
        var response = await groups.listGroups(message, version: request.version)
        let authorizer = access.authorizer
        guard authorizer.enabled,
              !authorizer.check(request.context, .describe, .cluster, "kafka-cluster", logDenial: false) else { return response }
        response.groups = response.groups.filter {
            authorizer.check(request.context, .describe, .group, $0.groupId, logDenial: false)
        }
        return response
    }

    /// DeleteGroups: DELETE on each group.
    func authorizedDeleteGroups(_ groups: GroupRequests, _ message: DeleteGroupsRequest,
                                _ request: HandlerRequest) async -> DeleteGroupsResponse {
        await servePermitted(message, \.groupsNames, answers: \.results,
                             verdict: { groupDenied($0, .delete, request) },
                             answer: { .denied($0, $1) }) { await groups.deleteGroups($0, version: request.version) }
    }

    /// EndTxn and AddOffsetsToTxn: WRITE on the transactional id (AddOffsetsToTxn also READ on the group).
    func transactionDenied(_ transactionalId: String, group: String? = nil, _ request: HandlerRequest) -> ErrorCode? {
        guard authorizationEnabled else { return nil }
        if !request.allowed(self, .write, .transactionalId, transactionalId) { return .transactionalIdAuthorizationFailed }
        if let group, !request.allowed(self, .read, .group, group) { return .groupAuthorizationFailed }
        return nil
    }
}

extension ListOffsetsResponse: EmptyAnswer {}

extension ListOffsetsResponse.ListOffsetsTopicResponse: TopicPartitionsAnswer {}

extension ListOffsetsResponse.ListOffsetsPartitionResponse: PartitionErrorAnswer {
    mutating func markFailed() {
        offset = -1
        timestamp = -1
    }
}

extension DescribeConfigsResponse: EmptyAnswer {}

extension AlterConfigsResponse: EmptyAnswer {}

extension IncrementalAlterConfigsResponse: EmptyAnswer {}

extension CreatePartitionsResponse: EmptyAnswer {}

extension CreatePartitionsResponse.CreatePartitionsTopicResult: TopicErrorAnswer {}

extension DeleteRecordsResponse: EmptyAnswer {}

extension DeleteRecordsResponse.DeleteRecordsTopicResult: TopicPartitionsAnswer {}

extension DeleteRecordsResponse.DeleteRecordsPartitionResult: PartitionErrorAnswer {
    mutating func markFailed() { lowWatermark = -1 }
}

extension DescribeGroupsResponse: EmptyAnswer {}

extension DescribeGroupsResponse.DescribedGroup: GroupErrorAnswer {}

extension DeleteGroupsResponse: EmptyAnswer {}

extension DeleteGroupsResponse.DeletableGroupResult: GroupErrorAnswer {}

extension EndTxnResponse: TopLevelErrorAnswer {}

extension AddOffsetsToTxnResponse: TopLevelErrorAnswer {}
