// AclEnforcement+Cluster: Kafka's checks for the group-offset and transaction APIs that name topics,
// the cluster-level admin APIs, and the `authorized_operations` bitfields (Metadata, DescribeGroups,
// DescribeCluster). Each follows KafkaApis: the same operation, resource and error code.
import KafkaProtocol
import RunnelGroups
import RunnelTransactions

extension AclResourceType {
    /// The operations Kafka reports in an `authorized_operations` bitfield for this resource type.
    var reportedOperations: [AclOperation] {
        switch self {
        case .topic: [.read, .write, .create, .describe, .delete, .alter, .describeConfigs, .alterConfigs]
        case .group: [.read, .describe, .delete, .describeConfigs, .alterConfigs]
        case .cluster: [.create, .clusterAction, .describeConfigs, .alterConfigs, .idempotentWrite, .alter, .describe]
        case .transactionalId: [.describe, .write]
        case .delegationToken: [.describe]
        case .user: [.createTokens, .describeTokens]
        default: []
        }
    }
}

extension BrokerCore {
    /// The cluster resource's name, as Kafka names it.
    static let clusterResource = "kafka-cluster"

    /// CLUSTER_AUTHORIZATION_FAILED unless the principal may do `operation` on the cluster.
    func clusterDenied(_ operation: AclOperation, _ request: HandlerRequest) -> ErrorCode? {
        guard authorizationEnabled else { return nil }
        return request.allowed(self, operation, .cluster, Self.clusterResource) ? nil : .clusterAuthorizationFailed
    }

    /// Kafka's `authorized_operations`: one bit (1 << operation code) per reported operation the
    /// principal may perform on the resource; every reported operation without an authorizer.
    func authorizedOperations(_ type: AclResourceType, _ name: String, _ request: HandlerRequest) -> Int32 {
        let authorizer = access.authorizer
        return type.reportedOperations.reduce(Int32(0)) { bits, operation in
            authorizer.check(request.context, operation, type, name, logDenial: false)
                ? bits | (Int32(1) << Int32(operation.rawValue)) : bits
        }
    }

    /// Metadata's `topic_authorized_operations` (v8+) and `cluster_authorized_operations` (v8–10), when asked.
    func metadataAuthorizedOperations(_ response: MetadataResponse, _ message: MetadataRequest,
                                      _ request: HandlerRequest) -> MetadataResponse {
        guard request.version >= 8 else { return response }
        var response = response
        if message.includeClusterAuthorizedOperations, request.version <= 10 {
            response.clusterAuthorizedOperations = clusterDenied(.describe, request) == nil
                ? authorizedOperations(.cluster, Self.clusterResource, request) : 0
        }
        if message.includeTopicAuthorizedOperations {
            for index in response.topics.indices where response.topics[index].errorCode == ErrorCode.none.rawValue {
                guard let name = response.topics[index].name else { continue }
                response.topics[index].topicAuthorizedOperations = authorizedOperations(.topic, name, request)
            }
        }
        return response
    }

    /// DescribeCluster: `cluster_authorized_operations` when asked (0 without DESCRIBE on the cluster).
    func authorizedDescribeCluster(_ message: DescribeClusterRequest,
                                   _ request: HandlerRequest) -> HandlerResult<DescribeClusterResponse> {
        describeCluster(message, request).map { [self] response in
            guard message.includeClusterAuthorizedOperations, response.errorCode == ErrorCode.none.rawValue else { return response }
            var response = response
            response.clusterAuthorizedOperations = clusterDenied(.describe, request) == nil
                ? authorizedOperations(.cluster, Self.clusterResource, request) : 0
            return response
        }
    }

    // MARK: Group offsets

    /// OffsetCommit: READ on the group (every partition answered GROUP_AUTHORIZATION_FAILED), then
    /// READ on each topic (its partitions answered TOPIC_AUTHORIZATION_FAILED).
    func authorizedOffsetCommit(_ groups: GroupRequests, _ message: OffsetCommitRequest,
                                _ request: HandlerRequest) async -> OffsetCommitResponse {
        if let code = groupDenied(message.groupId, .read, request) { return .denied(code, message) }
        return await servePermitted(message, \.topics, answers: \.topics,
                                    verdict: topicReadDenial(request) { (topic: OffsetCommitRequest.OffsetCommitRequestTopic) in
                                        (topic.name, topic.topicId)
                                    },
                                    answer: { topic, code in
                                        var answer = OffsetCommitResponse.OffsetCommitResponseTopic.denied(
                                            topic.name, topic.partitions.map(\.partitionIndex), code)
                                        answer.topicId = topic.topicId
                                        return answer
                                    }) { await groups.offsetCommit($0, version: request.version) }
    }

    /// TxnOffsetCommit: WRITE on the transactional id, READ on the group, READ on each topic.
    func authorizedTxnOffsetCommit(_ groups: GroupRequests, _ message: TxnOffsetCommitRequest,
                                   _ request: HandlerRequest) async -> TxnOffsetCommitResponse {
        let code: ErrorCode? = authorizationEnabled && !request.allowed(self, .write, .transactionalId, message.transactionalId)
            ? .transactionalIdAuthorizationFailed : groupDenied(message.groupId, .read, request)
        if let code {
            var response = TxnOffsetCommitResponse()
            response.topics = message.topics.map { .denied($0.name, $0.partitions.map(\.partitionIndex), code) }
            return response
        }
        return await servePermitted(message, \.topics, answers: \.topics,
                                    verdict: topicReadDenial(request) { (topic: TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic) in
                                        (topic.name, .zero)
                                    },
                                    answer: { .denied($0.name, $0.partitions.map(\.partitionIndex), $1) }) {
            await groups.txnOffsetCommit($0, version: request.version)
        }
    }

    /// OffsetDelete: DELETE on the group (a top-level GROUP_AUTHORIZATION_FAILED), READ on each topic.
    func authorizedOffsetDelete(_ groups: GroupRequests, _ message: OffsetDeleteRequest,
                                _ request: HandlerRequest) async -> OffsetDeleteResponse {
        if let code = groupDenied(message.groupId, .delete, request) { return .denied(code) }
        return await servePermitted(message, \.topics, answers: \.topics,
                                    verdict: topicReadDenial(request) { (topic: OffsetDeleteRequest.OffsetDeleteRequestTopic) in
                                        (topic.name, .zero)
                                    },
                                    answer: { .denied($0.name, $0.partitions.map(\.partitionIndex), $1) }) {
            await groups.offsetDelete($0, version: request.version)
        }
    }

    /// TOPIC_AUTHORIZATION_FAILED for topics (by name, or by id) the principal may not READ.
    private func topicReadDenial<Resource>(_ request: HandlerRequest,
                                           _ topic: @escaping (Resource) -> (String, KafkaUUID)) -> (Resource) -> ErrorCode? {
        denial(.read, .topic, .topicAuthorizationFailed, request) { [self] resource in
            let (name, id) = topic(resource)
            return topicName(name, id)
        }
    }

    // MARK: Transactions

    /// AddPartitionsToTxn: v0–3 (clients) need WRITE on the transactional id, then WRITE on every topic —
    /// one denied topic fails the whole request (TOPIC_AUTHORIZATION_FAILED on it, OPERATION_NOT_ATTEMPTED
    /// on the others); v4+ (brokers) need CLUSTER_ACTION on the cluster.
    func authorizedAddPartitionsToTxn(_ transactions: TransactionRequests, _ message: AddPartitionsToTxnRequest,
                                      _ request: HandlerRequest) async -> AddPartitionsToTxnResponse {
        guard authorizationEnabled else { return await transactions.addPartitionsToTxn(message, version: request.version) }
        if request.version >= 4 {
            guard let code = clusterDenied(.clusterAction, request) else {
                return await transactions.addPartitionsToTxn(message, version: request.version)
            }
            return .denied(code)
        }
        let topics = message.v3AndBelowTopics
        var response = AddPartitionsToTxnResponse()
        if !request.allowed(self, .write, .transactionalId, message.v3AndBelowTransactionalId) {
            response.resultsByTopicV3AndBelow = topics.map { .denied($0.name, $0.partitions, .transactionalIdAuthorizationFailed) }
            return response
        }
        let writable = denial(.write, .topic, .topicAuthorizationFailed, request) { (name: String) in name }
        let verdicts = topics.map { writable($0.name) }
        guard verdicts.contains(where: { $0 != nil }) else {
            return await transactions.addPartitionsToTxn(message, version: request.version)
        }
        response.resultsByTopicV3AndBelow = zip(topics, verdicts).map { topic, code in
            .denied(topic.name, topic.partitions, code ?? .operationNotAttempted)
        }
        return response
    }

    /// ListTransactions: only the transactional ids the principal may DESCRIBE.
    func authorizedListTransactions(_ transactions: TransactionRequests, _ message: ListTransactionsRequest,
                                    _ request: HandlerRequest) async -> ListTransactionsResponse {
        var response = await transactions.listTransactions(message, version: request.version)
        guard authorizationEnabled else { return response }
        response.transactionStates.removeAll { !request.allowed(self, .describe, .transactionalId, $0.transactionalId) }
        return response
    }

    /// DescribeTransactions: DESCRIBE on each transactional id; only topics the principal may DESCRIBE.
    func authorizedDescribeTransactions(_ transactions: TransactionRequests, _ message: DescribeTransactionsRequest,
                                        _ request: HandlerRequest) async -> DescribeTransactionsResponse {
        var response = await servePermitted(message, \.transactionalIds, answers: \.transactionStates,
                                            verdict: denial(.describe, .transactionalId, .transactionalIdAuthorizationFailed,
                                                            request) { $0 },
                                            answer: { id, code in
                                                var state = DescribeTransactionsResponse.TransactionState()
                                                state.transactionalId = id
                                                state.errorCode = code.rawValue
                                                return state
                                            }) { await transactions.describeTransactions($0, version: request.version) }
        guard authorizationEnabled else { return response }
        for index in response.transactionStates.indices {
            response.transactionStates[index].topics.removeAll { !request.allowed(self, .describe, .topic, $0.topic) }
        }
        return response
    }

    /// WriteTxnMarkers (from other brokers): ALTER or CLUSTER_ACTION on the cluster.
    func authorizedWriteTxnMarkers(_ message: WriteTxnMarkersRequest,
                                   _ request: HandlerRequest) -> HandlerResult<WriteTxnMarkersResponse> {
        guard authorizationEnabled,
              !access.authorizer.check(request.context, .alter, .cluster, Self.clusterResource, logDenial: false),
              let code = clusterDenied(.clusterAction, request)
        else { return writeTxnMarkers(message, request) }
        var response = WriteTxnMarkersResponse()
        response.markers = message.markers.map { marker in
            var result = WriteTxnMarkersResponse.WritableTxnMarkerResult()
            result.producerId = marker.producerId
            result.topics = marker.topics.map { .denied($0.name, $0.partitionIndexes, code) }
            return result
        }
        return .now(response)
    }

    /// DescribeProducers: READ on each topic.
    func authorizedDescribeProducers(_ message: DescribeProducersRequest,
                                     _ request: HandlerRequest) -> HandlerResult<DescribeProducersResponse> {
        servePermitted(message, \.topics, answers: \.topics,
                       verdict: denial(.read, .topic, .topicAuthorizationFailed, request) { $0.name },
                       answer: { .denied($0.name, $0.partitionIndexes, $1) }) { describeProducers($0, request) }
    }

    // MARK: Cluster admin

    /// ElectLeaders: ALTER on the cluster.
    func authorizedElectLeaders(_ message: ElectLeadersRequest, _ request: HandlerRequest) async -> ElectLeadersResponse {
        guard let code = clusterDenied(.alter, request) else { return await electLeaders(message, request) }
        return electLeadersFailure(message, request, code, "Authorization failed.")
    }

    /// AlterPartitionReassignments: ALTER on the cluster.
    func authorizedAlterPartitionReassignments(_ message: AlterPartitionReassignmentsRequest,
                                               _ request: HandlerRequest) async -> AlterPartitionReassignmentsResponse {
        guard let code = clusterDenied(.alter, request) else { return await alterPartitionReassignments(message, request) }
        var response = AlterPartitionReassignmentsResponse()
        response.errorCode = code.rawValue
        response.errorMessage = "Authorization failed."
        response.responses = message.topics.map { topic in
            var answer = AlterPartitionReassignmentsResponse.ReassignableTopicResponse.denied(
                topic.name, topic.partitions.map(\.partitionIndex), code)
            for index in answer.partitions.indices { answer.partitions[index].errorMessage = "Authorization failed." }
            return answer
        }
        return response
    }

    /// ListPartitionReassignments: DESCRIBE on the cluster.
    func authorizedListPartitionReassignments(_ message: ListPartitionReassignmentsRequest,
                                              _ request: HandlerRequest) -> HandlerResult<ListPartitionReassignmentsResponse> {
        guard let code = clusterDenied(.describe, request) else { return listPartitionReassignments(message, request) }
        var response = ListPartitionReassignmentsResponse()
        response.errorCode = code.rawValue
        response.errorMessage = "Authorization failed."
        return .now(response)
    }

    /// DescribeLogDirs: DESCRIBE on the cluster; denied, the answer lists no log dir (and v3+ carries the error).
    func authorizedDescribeLogDirs(_ message: DescribeLogDirsRequest,
                                   _ request: HandlerRequest) -> HandlerResult<DescribeLogDirsResponse> {
        guard let code = clusterDenied(.describe, request) else { return describeLogDirs(message, request) }
        var response = DescribeLogDirsResponse()
        if request.version >= 3 { response.errorCode = code.rawValue }
        return .now(response)
    }
}

extension OffsetCommitResponse.OffsetCommitResponseTopic: TopicPartitionsAnswer {}

extension OffsetCommitResponse.OffsetCommitResponsePartition: PartitionErrorAnswer {}

extension TxnOffsetCommitResponse: EmptyAnswer {}

extension TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic: TopicPartitionsAnswer {}

extension TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition: PartitionErrorAnswer {}

extension OffsetDeleteResponse: TopLevelErrorAnswer {}

extension OffsetDeleteResponse.OffsetDeleteResponseTopic: TopicPartitionsAnswer {}

extension OffsetDeleteResponse.OffsetDeleteResponsePartition: PartitionErrorAnswer {}

extension AddPartitionsToTxnResponse: TopLevelErrorAnswer {}

extension AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult: TopicPartitionsAnswer {
    var partitions: [AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult] {
        get { resultsByPartition }
        set { resultsByPartition = newValue }
    }
}

extension AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult: PartitionErrorAnswer {
    var errorCode: Int16 {
        get { partitionErrorCode }
        set { partitionErrorCode = newValue }
    }
}

extension DescribeTransactionsResponse: EmptyAnswer {}

extension WriteTxnMarkersResponse.WritableTxnMarkerTopicResult: TopicPartitionsAnswer {}

extension WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult: PartitionErrorAnswer {}

extension DescribeProducersResponse: EmptyAnswer {}

extension DescribeProducersResponse.TopicResponse: TopicPartitionsAnswer {}

extension DescribeProducersResponse.PartitionResponse: PartitionErrorAnswer {}

extension AlterPartitionReassignmentsResponse.ReassignableTopicResponse: TopicPartitionsAnswer {}

extension AlterPartitionReassignmentsResponse.ReassignablePartitionResponse: PartitionErrorAnswer {}
