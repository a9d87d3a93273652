// AclHandlers: the authorizer holder, CreateAcls / DescribeAcls / DeleteAcls over the `acl` cluster
// records, and the authorization checks the request handlers call.
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import RunnelCluster

/// Holds the broker's authorizer (replaced once at startup when `authorizer.class.name` is set).
final class AccessControl: Sendable {
    private let current = NIOLockedValueBox(AclAuthorizer.disabled)

    var authorizer: AclAuthorizer { current.withLockedValue { $0 } }

    func install(_ authorizer: AclAuthorizer) { current.withLockedValue { $0 = authorizer } }
}

extension HandlerRequest {
    /// Whether this request's principal may do `operation` on `type`/`name` (denials are logged).
    func allowed(_ core: BrokerCore, _ operation: AclOperation, _ type: AclResourceType, _ name: String) -> Bool {
        core.access.authorizer.check(context, operation, type, name)
    }
}

extension BrokerCore {
    var authorizationEnabled: Bool { access.authorizer.enabled }

    /// Whether the principal may create `topic`: CREATE on the cluster or on the topic (Kafka).
    func mayCreateTopic(_ topic: String, _ request: HandlerRequest) -> Bool {
        let authorizer = access.authorizer
        guard authorizer.enabled else { return true }
        return authorizer.check(request.context, .create, .cluster, "kafka-cluster", logDenial: false)
            || authorizer.check(request.context, .create, .topic, topic)
    }

    /// Whether an idempotent producer may get a producer id: IDEMPOTENT_WRITE on the cluster, or WRITE
    /// allowed on some topic (KIP-679).
    func mayWriteIdempotently(_ request: HandlerRequest) -> Bool {
        let authorizer = access.authorizer
        guard authorizer.enabled else { return true }
        if authorizer.check(request.context, .idempotentWrite, .cluster, "kafka-cluster", logDenial: false) { return true }
        let principal = request.context.session.principal.description
        let host = request.context.clientAddress?.ipAddress ?? ""
        let candidates = authorizer.bindings.filter {
            $0.resourceType == .topic && ($0.principal == principal || $0.principal == "User:*")
                && ($0.host == "*" || $0.host == host)
        }
        for acl in candidates where acl.permission == .allow && AclAuthorizer.allows(acl.operation, .write) {
            let name = acl.resourceName
            if acl.patternType == .literal && name != "*" {
                if authorizer.check(request.context, .write, .topic, name, logDenial: false) { return true }
            } else {
                return true
            }
        }
        request.context.logger.info("authorization denied", metadata: [
            "principal": "\(principal)", "client": "\(host)", "operation": "IdempotentWrite", "resource": "Cluster:kafka-cluster",
        ])
        return false
    }

    private func aclGate(_ operation: AclOperation, _ request: HandlerRequest) -> ErrorCode? {
        guard authorizationEnabled else { return .securityDisabled }
        return request.allowed(self, operation, .cluster, "kafka-cluster") ? nil : .clusterAuthorizationFailed
    }

    func createAcls(_ request: CreateAclsRequest, _ context: HandlerRequest) async -> CreateAclsResponse {
        var response = CreateAclsResponse()
        if let denied = aclGate(.alter, context) {
            response.results = request.creations.map { _ in
                var result = CreateAclsResponse.AclCreationResult()
                result.errorCode = denied.rawValue
                result.errorMessage = denied == .securityDisabled ? "No Authorizer is configured." : nil
                return result
            }
            return response
        }
        var results: [CreateAclsResponse.AclCreationResult] = []
        var writes: [ClusterRecordWrite] = []
        var keys: Set<String> = []
        for creation in request.creations {
            var result = CreateAclsResponse.AclCreationResult()
            result.errorMessage = nil
            let binding = AclBinding(
                resourceType: AclResourceType(rawValue: creation.resourceType) ?? .unknown, resourceName: creation.resourceName,
                patternType: AclPatternType(rawValue: creation.resourcePatternType) ?? .unknown, principal: creation.principal,
                host: creation.host, operation: AclOperation(rawValue: creation.operation) ?? .unknown,
                permission: AclPermission(rawValue: creation.permissionType) ?? .unknown)
            if let reason = binding.invalidReason {
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = reason
            } else if keys.insert(binding.recordKey).inserted {
                writes.append(.put(.acl, key: binding.recordKey, value: binding.json))
            }
            results.append(result)
        }
        if let failure = await writeInBatches(writes) {
            for index in results.indices where results[index].errorCode == 0 {
                results[index].errorCode = failure.0.rawValue
                results[index].errorMessage = failure.1
            }
        } else if !writes.isEmpty {
            context.context.logger.info("ACLs created", metadata: [
                "count": "\(writes.count)", "principal": "\(context.context.session.principal)",
            ])
        }
        response.results = results
        return response
    }

    /// Writes in batches of at most the store's limit; the first failure stops and is returned.
    private func writeInBatches(_ writes: [ClusterRecordWrite]) async -> (ErrorCode, String)? {
        var start = 0
        while start < writes.count {
            let batch = Array(writes[start..<min(start + ClusterRecordLimits.maxWritesPerBatch, writes.count)])
            do {
                _ = try await metadataStore.writeRecords(batch)
            } catch {
                return (error.errorCode, "\(error)")
            }
            start += batch.count
        }
        return nil
    }

    private func filter(type: Int8, name: String?, pattern: Int8, principal: String?, host: String?, operation: Int8,
                        permission: Int8) -> AclFilter {
        AclFilter(resourceType: AclResourceType(rawValue: type) ?? .unknown, resourceName: name,
                  patternType: AclPatternType(rawValue: pattern) ?? .unknown, principal: principal, host: host,
                  operation: AclOperation(rawValue: operation) ?? .unknown,
                  permission: AclPermission(rawValue: permission) ?? .unknown)
    }

    private var storedAcls: [AclBinding] {
        metadataStore.image.records(.acl).values.compactMap(AclBinding.init(record:))
    }

    func describeAcls(_ request: DescribeAclsRequest, _ context: HandlerRequest) -> HandlerResult<DescribeAclsResponse> {
        var response = DescribeAclsResponse()
        if let denied = aclGate(.describe, context) {
            response.errorCode = denied.rawValue
            response.errorMessage = denied == .securityDisabled ? "No Authorizer is configured." : nil
            return .now(response)
        }
        let filter = filter(type: request.resourceTypeFilter, name: request.resourceNameFilter, pattern: request.patternTypeFilter,
                            principal: request.principalFilter, host: request.hostFilter, operation: request.operation,
                            permission: request.permissionType)
        if let reason = filter.invalidReason {
            response.errorCode = ErrorCode.invalidRequest.rawValue
            response.errorMessage = reason
            return .now(response)
        }
        response.errorMessage = nil
        var grouped: [String: (AclBinding, [AclBinding])] = [:]
        for binding in storedAcls where filter.matches(binding) {
            let key = "\(binding.resourceType.rawValue)/\(binding.patternType.rawValue)/\(binding.resourceName)"
            grouped[key, default: (binding, [])].1.append(binding)
        }
        response.resources = grouped.keys.sorted().compactMap { key in
            guard let (first, bindings) = grouped[key] else { return nil }
            var resource = DescribeAclsResponse.DescribeAclsResource()
            resource.resourceType = first.resourceType.rawValue
            resource.resourceName = first.resourceName
            resource.patternType = first.patternType.rawValue
            resource.acls = bindings.sorted { $0.recordKey < $1.recordKey }.map { binding in
                var acl = DescribeAclsResponse.AclDescription()
                acl.principal = binding.principal
                acl.host = binding.host
                acl.operation = binding.operation.rawValue
                acl.permissionType = binding.permission.rawValue
                return acl
            }
            return resource
        }
        return .now(response)
    }

    func deleteAcls(_ request: DeleteAclsRequest, _ context: HandlerRequest) async -> DeleteAclsResponse {
        var response = DeleteAclsResponse()
        if let denied = aclGate(.alter, context) {
            response.filterResults = request.filters.map { _ in
                var result = DeleteAclsResponse.DeleteAclsFilterResult()
                result.errorCode = denied.rawValue
                result.errorMessage = denied == .securityDisabled ? "No Authorizer is configured." : nil
                return result
            }
            return response
        }
        let stored = storedAcls
        var deleting: Set<String> = []
        var writes: [ClusterRecordWrite] = []
        response.filterResults = request.filters.map { wire in
            var result = DeleteAclsResponse.DeleteAclsFilterResult()
            result.errorMessage = nil
            let filter = filter(type: wire.resourceTypeFilter, name: wire.resourceNameFilter, pattern: wire.patternTypeFilter,
                                principal: wire.principalFilter, host: wire.hostFilter, operation: wire.operation,
                                permission: wire.permissionType)
            if let reason = filter.invalidReason {
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = reason
                return result
            }
            for binding in stored where filter.matches(binding) {
                var matching = DeleteAclsResponse.DeleteAclsMatchingAcl()
                matching.errorMessage = nil
                matching.resourceType = binding.resourceType.rawValue
                matching.resourceName = binding.resourceName
                matching.patternType = binding.patternType.rawValue
                matching.principal = binding.principal
                matching.host = binding.host
                matching.operation = binding.operation.rawValue
                matching.permissionType = binding.permission.rawValue
                result.matchingAcls.append(matching)
                if deleting.insert(binding.recordKey).inserted { writes.append(.delete(.acl, key: binding.recordKey)) }
            }
            return result
        }
        if let failure = await writeInBatches(writes) {
            for index in response.filterResults.indices {
                response.filterResults[index].errorCode = failure.0.rawValue
                response.filterResults[index].errorMessage = failure.1
            }
            return response
        }
        if !writes.isEmpty {
            context.context.logger.info("ACLs deleted", metadata: [
                "count": "\(writes.count)", "principal": "\(context.context.session.principal)",
            ])
        }
        return response
    }
}
