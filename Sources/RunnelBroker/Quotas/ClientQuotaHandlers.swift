// ClientQuotaHandlers: DescribeClientQuotas and AlterClientQuotas with Kafka's filters, validation and
// error codes, over the `quota` records of the metadata store (so every broker enforces the same set).
import KafkaProtocol
import RunnelCluster

/// An entity component in a quota message (the generated types share these two fields).
protocol ClientQuotaEntityData {
    init()
    var entityType: String { get set }
    var entityName: String? { get set }
}

extension ClientQuotaEntityData {
    init(type: String, name: String?) {
        self.init()
        entityType = type
        entityName = name
    }
}

extension DescribeClientQuotasResponse.EntityData: ClientQuotaEntityData {}
extension AlterClientQuotasResponse.EntityData: ClientQuotaEntityData {}

/// One entity's requested changes: key → new value, or nil to remove the key.
struct ClientQuotaAlteration: Sendable {
    var entity: ClientQuotaEntity
    var changes: [String: Double?]
}

extension MetadataStore {
    /// Applies quota changes in atomic batches (compare-and-swap on each entity's record, retried when
    /// another writer got there first). Returns the error of the batch that failed, if any.
    func alterClientQuotas(_ alterations: [ClientQuotaAlteration]) async -> [ClientQuotaEntity: ClientQuotaError] {
        var failures: [ClientQuotaEntity: ClientQuotaError] = [:]
        var start = 0
        while start < alterations.count {
            let chunk = Array(alterations[start..<min(start + ClusterRecordLimits.maxWritesPerBatch, alterations.count)])
            start += chunk.count
            for attempt in 0..<5 {
                let image = image
                let writes: [ClusterRecordWrite] = chunk.compactMap { alteration in
                    let key = alteration.entity.recordKey
                    let current = image.record(.quota, key: key)
                    var stored = current.flatMap { StoredClientQuotas(json: $0.value) } ?? StoredClientQuotas()
                    for (quotaKey, value) in alteration.changes { stored.values[quotaKey] = value }
                    let expected = current?.version ?? 0
                    if stored.values.isEmpty {
                        return current == nil ? nil : .delete(.quota, key: key, expectedVersion: expected)
                    }
                    return .put(.quota, key: key, value: stored.json, expectedVersion: expected)
                }
                guard !writes.isEmpty else { break }
                do {
                    _ = try await writeRecords(writes)
                    break
                } catch {
                    if case .recordVersionMismatch = error, attempt < 4 { continue }
                    for alteration in chunk {
                        failures[alteration.entity] = ClientQuotaError(code: error.errorCode, message: "\(error)")
                    }
                    break
                }
            }
        }
        return failures
    }
}

extension BrokerCore {
    func describeClientQuotas(_ request: DescribeClientQuotasRequest,
                              _ context: HandlerRequest) -> HandlerResult<DescribeClientQuotasResponse> {
        var response = DescribeClientQuotasResponse()
        func fail(_ error: ClientQuotaError) -> HandlerResult<DescribeClientQuotasResponse> {
            response.errorCode = error.code.rawValue
            response.errorMessage = error.message
            response.entries = nil
            return .now(response)
        }
        if authorizationEnabled, !context.allowed(self, .describeConfigs, .cluster, "kafka-cluster") {
            return fail(ClientQuotaError(code: .clusterAuthorizationFailed, message: "Cluster authorization failed."))
        }
        let filter: ClientQuotaFilter
        switch ClientQuotaFilter.parse(request.components.map { ($0.entityType, $0.matchType, $0.match) }, strict: request.strict) {
        case .success(let parsed): filter = parsed
        case .failure(let error): return fail(error)
        }
        response.errorMessage = nil
        let table = ClientQuotaTable(image: metadataStore.image)
        response.entries = table.entities.filter { filter.matches($0.key) && !$0.value.isEmpty }
            .sorted { $0.key.recordKey < $1.key.recordKey }
            .map { entity, values in
                var entry = DescribeClientQuotasResponse.EntryData()
                entry.entity = entity.components.map { .init(type: $0.type, name: $0.name) }
                entry.values = values.sorted { $0.key < $1.key }.map { key, value in
                    var data = DescribeClientQuotasResponse.ValueData()
                    data.key = key
                    data.value = value
                    return data
                }
                return entry
            }
        return .now(response)
    }

    func alterClientQuotas(_ request: AlterClientQuotasRequest, _ context: HandlerRequest) async -> AlterClientQuotasResponse {
        let authorized = !authorizationEnabled || context.allowed(self, .alterConfigs, .cluster, "kafka-cluster")
        var outcomes: [ClientQuotaError?] = []
        var entities: [ClientQuotaEntity?] = []
        var alterations: [ClientQuotaAlteration] = []
        var seen: Set<ClientQuotaEntity> = []
        for entry in request.entries {
            guard authorized else {  // Kafka refuses the whole request before looking at it
                outcomes.append(ClientQuotaError(code: .clusterAuthorizationFailed, message: "Cluster authorization failed."))
                entities.append(nil)
                continue
            }
            let validated = ClientQuotaEntity.validated(entry.entity.map { ($0.entityType, $0.entityName) })
            guard case .success(let entity) = validated else {
                if case .failure(let error) = validated { outcomes.append(error) }
                entities.append(nil)
                continue
            }
            entities.append(entity)
            guard seen.insert(entity).inserted else {
                outcomes.append(.invalid("Ignoring duplicate entity \(entity)"))
                continue
            }
            var changes: [String: Double?] = [:]
            var failure: ClientQuotaError?
            for op in entry.ops {
                if changes.keys.contains(op.key) {
                    failure = .invalid("Duplicate quota key \(op.key) not updating quota for this entity \(entity)")
                    break
                }
                if op.remove {
                    changes[op.key] = .some(nil)
                } else if let error = ClientQuotaKey.validate(op.key, op.value, for: entity) {
                    failure = error
                    break
                } else {
                    changes[op.key] = op.value
                }
            }
            outcomes.append(failure)
            if failure == nil, !changes.isEmpty { alterations.append(ClientQuotaAlteration(entity: entity, changes: changes)) }
        }
        let written = request.validateOnly || alterations.isEmpty ? [:] : await metadataStore.alterClientQuotas(alterations)
        var response = AlterClientQuotasResponse()
        response.entries = zip(request.entries, zip(outcomes, entities)).map { entry, result in
            var answer = AlterClientQuotasResponse.EntryData()
            answer.entity = entry.entity.map { .init(type: $0.entityType, name: $0.entityName) }
            let (failure, entity) = result
            if let error = failure ?? entity.flatMap({ written[$0] }) {
                answer.errorCode = error.code.rawValue
                answer.errorMessage = error.message
            } else {
                answer.errorMessage = nil
                if !request.validateOnly, let entity {
                    context.context.logger.info("client quotas altered", metadata: [
                        "entity": "\(entity)", "principal": "\(context.context.session.principal)",
                        "ops": "\(entry.ops.map { $0.remove ? "-\($0.key)" : "\($0.key)=\($0.value)" }.joined(separator: ","))",
                    ])
                }
            }
            return answer
        }
        return response
    }
}

/// A DescribeClientQuotas filter, checked as Kafka checks it.
struct ClientQuotaFilter: Sendable {
    /// Type → required name (nil: the default entity).
    var exact: [String: String?] = [:]
    /// Types that must be present with any name.
    var specified: Set<String> = []
    var strict = false

    static let matchExact: Int8 = 0
    static let matchDefault: Int8 = 1
    static let matchSpecified: Int8 = 2

    static func parse(_ components: [(type: String, matchType: Int8, match: String?)], strict: Bool)
        -> Result<ClientQuotaFilter, ClientQuotaError> {
        var filter = ClientQuotaFilter(strict: strict)
        for (type, matchType, match) in components {
            guard !type.isEmpty else { return .failure(.invalid("Invalid empty entity type.")) }
            guard filter.exact[type] == nil, !filter.specified.contains(type) else {
                return .failure(.invalid("Entity type \(type) cannot appear more than once in the filter."))
            }
            guard [ClientQuotaEntity.userType, ClientQuotaEntity.clientIdType, ClientQuotaEntity.ipType].contains(type) else {
                return .failure(ClientQuotaError(code: .unsupportedVersion, message: "Unsupported entity type \(type)"))
            }
            switch matchType {
            case matchExact:
                guard let match else { return .failure(.invalid("Request specified MATCH_TYPE_EXACT, but set match string to null.")) }
                filter.exact[type] = .some(match)
            case matchDefault:
                guard match == nil else { return .failure(.invalid("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")) }
                filter.exact[type] = .some(nil)
            case matchSpecified:
                guard match == nil else { return .failure(.invalid("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")) }
                filter.specified.insert(type)
            default:
                return .failure(.invalid("Unknown match type \(matchType)"))
            }
        }
        let types = Set(filter.exact.keys).union(filter.specified)
        if types.contains(ClientQuotaEntity.ipType), types.contains(ClientQuotaEntity.userType) || types.contains(ClientQuotaEntity.clientIdType) {
            return .failure(.invalid("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."))
        }
        return .success(filter)
    }

    func matches(_ entity: ClientQuotaEntity) -> Bool {
        let components = Dictionary(entity.components.map { ($0.type, $0.name) }, uniquingKeysWith: { first, _ in first })
        if strict, components.count != exact.count + specified.count { return false }
        for (type, name) in exact {
            guard let present = components[type], present == name else { return false }
        }
        return specified.allSatisfy { components[$0] != nil }
    }
}
