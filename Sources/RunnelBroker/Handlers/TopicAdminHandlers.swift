// CreateTopics, DeleteTopics and CreatePartitions. Each writes to the metadata store (a network call in
// cluster mode), so they run off the event loop on the connection's lane (`KafkaRouter.serveAsync`).
import KafkaProtocol
import Logging
import NIOCore
import RunnelCluster

extension BrokerCore {
    /// Topic changes of one request in flight at once. In cluster mode each is an etcd transaction and a
    /// watch round trip, which now overlap: 40 deletions took 0.07–0.15 s instead of 0.12–0.31. Creations
    /// are bound by each broker creating the partitions' files in watch order (about 2.7 ms a partition),
    /// so they gained nothing measurable here (docs/benchmarks.md, session 18).
    static let topicChangeConcurrency = 8

    /// One topic of a CreateTopics request once its own checks and the mutation quota have been passed:
    /// either answered already, or to be created.
    private struct PlannedCreation: Sendable {
        var result: CreateTopicsResponse.CreatableTopicResult
        var creation: Creation?
        struct Creation: Sendable {
            var partitions: Int32
            var factor: Int16
            var assignments: [[Int32]]?
            var configs: [String: String]
            /// Partitions taken from the mutation quota (given back if the creation fails).
            var mutated: Int
        }
    }

    func createTopics(_ request: CreateTopicsRequest, _ context: HandlerRequest) async -> CreateTopicsResponse {
        var response = CreateTopicsResponse()
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        let live = Set(metadataStore.liveBrokers().map(\.nodeId))
        var mutations = ControllerMutationQuota(quotas, context)
        // In request order: each topic's checks and its share of controller_mutation_rate (taken in the
        // request's order, as Kafka's controller does); then the creations, several at once.
        var planned: [PlannedCreation] = []
        for requested in request.topics {
            planned.append(await planCreation(requested, request, counts: counts, live: live, &mutations, context))
        }
        let validateOnly = request.validateOnly
        let logger = context.context.logger
        response.topics = await planned.orderedConcurrentMap(limit: Self.topicChangeConcurrency) { [self] plan in
            guard let creation = plan.creation else { return plan.result }
            return await create(plan.result, creation, validateOnly: validateOnly, logger: logger)
        }
        for (plan, result) in zip(planned, response.topics) where result.errorCode != ErrorCode.none.rawValue {
            if let creation = plan.creation { mutations.refund(creation.mutated) }
        }
        response.throttleTimeMs = finish(mutations, context)
        return response
    }

    private func planCreation(_ requested: CreateTopicsRequest.CreatableTopic, _ request: CreateTopicsRequest, counts: [String: Int],
                              live: Set<Int32>, _ mutations: inout ControllerMutationQuota,
                              _ context: HandlerRequest) async -> PlannedCreation {
        var result = CreateTopicsResponse.CreatableTopicResult()
        result.name = requested.name
        result.numPartitions = -1
        result.replicationFactor = -1
        if counts[requested.name, default: 0] > 1 {
            result.errorCode = ErrorCode.invalidRequest.rawValue
            result.errorMessage = "Create topics request from client `\(context.header.clientId ?? "")` contains multiple entries for the following topics: \(requested.name)"
            return PlannedCreation(result: result)
        }
        var partitions = requested.numPartitions
        var factor = requested.replicationFactor
        var explicit: [[Int32]]?
        if !requested.assignments.isEmpty {
            guard partitions == -1, factor == -1 else {
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
                return PlannedCreation(result: result)
            }
            let foreign = requested.assignments.flatMap(\.brokerIds).filter { !live.contains($0) }
            guard foreign.isEmpty else {
                result.errorCode = ErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = "Unknown broker id(s) in the replica assignment: \(foreign)"
                return PlannedCreation(result: result)
            }
            partitions = Int32(requested.assignments.count)
            factor = Int16(requested.assignments.first?.brokerIds.count ?? 1)
            explicit = requested.assignments.sorted { $0.partitionIndex < $1.partitionIndex }.map(\.brokerIds)
        }
        var overrides: [String: String] = [:]
        for config in requested.configs {
            if let value = config.value { overrides[config.name] = value }
        }
        let creation = PlannedCreation.Creation(partitions: partitions, factor: factor, assignments: explicit, configs: overrides,
                                                mutated: Int(partitions == -1 ? settings.defaultPartitions : partitions))
        // controller_mutation_rate, after validation as in Kafka's controller (a validate-only pass first when a
        // quota applies): the partitions are taken just before the change and given back if it fails; a
        // validate-only request takes them too, as Kafka's controller does.
        do throws(TopicCreationError) {
            if mutations.isLimited {
                _ = try await createTopic(name: requested.name, partitions: partitions, replicationFactor: factor,
                                          configs: overrides, assignments: explicit, validateOnly: true,
                                          logger: context.context.logger)
            }
            guard mutations.acquire(creation.mutated) else {
                throw TopicCreationError(ControllerMutationQuota.exceeded.code, ControllerMutationQuota.exceeded.message)
            }
        } catch {
            result.errorCode = error.errorCode.rawValue
            result.errorMessage = error.message
            return PlannedCreation(result: result)
        }
        return PlannedCreation(result: result, creation: creation)
    }

    /// Creates one planned topic and fills in its answer.
    private func create(_ planned: CreateTopicsResponse.CreatableTopicResult, _ creation: PlannedCreation.Creation,
                        validateOnly: Bool, logger: Logger) async -> CreateTopicsResponse.CreatableTopicResult {
        var result = planned
        do throws(TopicCreationError) {
            let topic = try await createTopic(name: result.name, partitions: creation.partitions, replicationFactor: creation.factor,
                                              configs: creation.configs, assignments: creation.assignments,
                                              validateOnly: validateOnly, logger: logger)
            result.errorCode = ErrorCode.none.rawValue
            result.topicId = validateOnly ? .zero : topic.topicId
            result.numPartitions = topic.partitionCount
            result.replicationFactor = topic.replicationFactor
            result.configs = topicConfigs.describe(topicOverrides: topic.configs, keys: nil, includeSynonyms: false,
                                                   includeDocumentation: false).map { entry in
                var config = CreateTopicsResponse.CreatableTopicConfigs()
                config.name = entry.name
                config.value = entry.value
                config.readOnly = entry.isReadOnly
                config.configSource = entry.source.rawValue
                config.isSensitive = entry.isSensitive
                return config
            }
        } catch {
            result.errorCode = error.errorCode.rawValue
            result.errorMessage = error.message
        }
        return result
    }

    func deleteTopics(_ request: DeleteTopicsRequest, _ context: HandlerRequest) async -> DeleteTopicsResponse {
        var response = DeleteTopicsResponse()
        // v6 names topics by name or id; earlier versions by name only.
        let targets: [(name: String?, id: KafkaUUID)] = context.version >= 6
            ? request.topics.map { ($0.name, $0.topicId) }
            : request.topicNames.map { ($0, KafkaUUID.zero) }
        var mutations = ControllerMutationQuota(quotas, context)
        // Checks and the mutation quota in request order, then the deletions several at once (as creations).
        let planned = targets.map { planDeletion($0, &mutations, context) }
        let logger = context.context.logger
        response.responses = await planned.orderedConcurrentMap(limit: Self.topicChangeConcurrency) { [self] plan in
            guard let topic = plan.topic else { return plan.result }
            var result = plan.result
            do throws(MetadataStoreError) {
                _ = try await metadataStore.deleteTopic(named: topic.name)
                dropPartitions(of: topic)
                logger.info("deleted topic", metadata: ["topic": "\(topic.name)"])
                result.errorCode = ErrorCode.none.rawValue
            } catch {
                result.errorCode = error.errorCode.rawValue
                result.errorMessage = error.description
            }
            return result
        }
        for (plan, result) in zip(planned, response.responses) where result.errorCode != ErrorCode.none.rawValue {
            if let topic = plan.topic { mutations.refund(Int(topic.partitionCount)) }
        }
        response.throttleTimeMs = finish(mutations, context)
        return response
    }

    /// One topic of a DeleteTopics request after its checks and the mutation quota: answered already
    /// (`topic` nil), or to be deleted.
    private struct PlannedDeletion: Sendable {
        var result: DeleteTopicsResponse.DeletableTopicResult
        var topic: TopicMetadata?
    }

    private func planDeletion(_ target: (name: String?, id: KafkaUUID), _ mutations: inout ControllerMutationQuota,
                              _ context: HandlerRequest) -> PlannedDeletion {
        let result = checkDeletion(target, context)
        guard let topic = result.topic else { return result }
        guard mutations.acquire(Int(topic.partitionCount)) else {
            var refused = result.result
            (refused.errorCode, refused.errorMessage) = (ControllerMutationQuota.exceeded.code.rawValue, ControllerMutationQuota.exceeded.message)
            return PlannedDeletion(result: refused)
        }
        return result
    }

    private func checkDeletion(_ target: (name: String?, id: KafkaUUID), _ context: HandlerRequest) -> PlannedDeletion {
        var result = DeleteTopicsResponse.DeletableTopicResult()
        result.name = target.name
        result.topicId = target.id
        let topic: TopicMetadata?
        if let name = target.name {
            if let conflict = TopicAliasRules.topicDeletionConflict(name, in: metadataStore.image) {
                result.errorCode = ErrorCode.policyViolation.rawValue
                result.errorMessage = conflict
                return PlannedDeletion(result: result)
            }
            topic = metadataStore.topic(named: name)
        } else {
            topic = metadataStore.topic(id: target.id)
        }
        guard let topic else {
            result.errorCode = (target.name == nil ? ErrorCode.unknownTopicId : ErrorCode.unknownTopicOrPartition).rawValue
            return PlannedDeletion(result: result)
        }
        result.name = topic.name
        result.topicId = topic.topicId
        if let conflict = TopicAliasRules.topicDeletionConflict(topic.name, in: metadataStore.image) {
            result.errorCode = ErrorCode.policyViolation.rawValue
            result.errorMessage = conflict
            return PlannedDeletion(result: result)
        }
        guard !InternalTopics.contains(topic.name) else {
            // Deleting an internal topic would drop every group's (or transaction's) state.
            result.errorCode = ErrorCode.invalidTopicException.rawValue
            result.errorMessage = "Cannot delete internal topic \(topic.name)"
            return PlannedDeletion(result: result)
        }
        guard settings.deleteTopicEnable else {
            // Kafka: TopicDeletionDisabledException from v3 on, InvalidRequestException before.
            result.errorCode = (context.version >= 3 ? ErrorCode.topicDeletionDisabled : ErrorCode.invalidRequest).rawValue
            result.errorMessage = "topic deletion is disabled (delete.topic.enable=false)"
            return PlannedDeletion(result: result)
        }
        return PlannedDeletion(result: result, topic: topic)
    }

    func createPartitions(_ request: CreatePartitionsRequest, _ context: HandlerRequest) async -> CreatePartitionsResponse {
        var response = CreatePartitionsResponse()
        var mutations = ControllerMutationQuota(quotas, context)
        for requested in request.topics { response.results.append(await createPartitions(requested, request, &mutations, context)) }
        response.throttleTimeMs = finish(mutations, context)
        return response
    }

    private func createPartitions(_ requested: CreatePartitionsRequest.CreatePartitionsTopic, _ request: CreatePartitionsRequest,
                              _ mutations: inout ControllerMutationQuota,
                              _ context: HandlerRequest) async -> CreatePartitionsResponse.CreatePartitionsTopicResult {
        var result = CreatePartitionsResponse.CreatePartitionsTopicResult()
        result.name = requested.name
        guard var topic = metadataStore.topic(named: requested.name) else {
            result.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
            result.errorMessage = "The topic '\(requested.name)' does not exist."
            return result
        }
        guard !InternalTopics.contains(topic.name) else {
            // Its partition count maps each group (or transactional id) to a partition: changing it
            // would strand every group's committed offsets on a partition no longer consulted.
            result.errorCode = ErrorCode.invalidTopicException.rawValue
            result.errorMessage = "Cannot change the number of partitions of internal topic \(topic.name)"
            return result
        }
        guard requested.count > topic.partitionCount else {
            result.errorCode = ErrorCode.invalidPartitions.rawValue
            result.errorMessage = requested.count == topic.partitionCount
                ? "Topic already has \(topic.partitionCount) partitions."
                : "The topic \(topic.name) currently has \(topic.partitionCount) partition(s); \(requested.count) would not be an increase."
            return result
        }
        let registrations = metadataStore.liveBrokers()
        let live = registrations.map(\.nodeId)
        let racks = ReplicaPlacement.racks(of: registrations)
        let partition0 = metadataStore.image.topic(named: topic.name)?.partitions.first?.replicas ?? []
        var newAssignments = ReplicaPlacement.assign(partitions: requested.count - topic.partitionCount,
                                                     replicationFactor: topic.replicationFactor, brokers: live,
                                                     racks: racks, firstPartition: topic.partitionCount,
                                                     start: .continuing(after: partition0, brokers: live, racks: racks))
        if let assignments = requested.assignments {
            let added = Int(requested.count - topic.partitionCount)
            guard assignments.count == added else {
                result.errorCode = ErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = "Increasing the number of partitions by \(added) but \(assignments.count) assignments provided."
                return result
            }
            let unknown = assignments.flatMap(\.brokerIds).filter { !live.contains($0) }
            guard unknown.isEmpty else {
                result.errorCode = ErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = live == [settings.nodeId]
                    ? "Replica assignments may only name broker \(settings.nodeId) on a single node."
                    : "Unknown broker id(s) in the replica assignment: \(unknown)"
                return result
            }
            newAssignments = assignments.map(\.brokerIds)
        } else if live.count < Int(topic.replicationFactor) {
            result.errorCode = ErrorCode.invalidReplicationFactor.rawValue
            result.errorMessage = "Unable to replicate the new partitions \(topic.replicationFactor) time(s): only \(live.count) broker(s) are registered."
            return result
        }
        let added = Int(requested.count - topic.partitionCount)
        guard mutations.acquire(added) else {
            (result.errorCode, result.errorMessage) = (ControllerMutationQuota.exceeded.code.rawValue, ControllerMutationQuota.exceeded.message)
            return result
        }
        guard !request.validateOnly else {
            result.errorCode = ErrorCode.none.rawValue
            return result
        }
        do {
            try await metadataStore.setPartitionCount(topic: topic.name, to: requested.count, newAssignments: newAssignments)
            topic.partitionCount = requested.count
            try await replicas.ensurePartitionsOffPool(of: topic, config: topicConfigs.logConfig(for: topic),
                                                       assigned: assignment(of: topic.name))
            if let image = metadataStore.image.topic(named: topic.name) { replication?.apply(image) }
            result.errorCode = ErrorCode.none.rawValue
        } catch let error as MetadataStoreError {
            mutations.refund(added)
            result.errorCode = error.errorCode.rawValue
            result.errorMessage = error.description
        } catch {
            result.errorCode = ErrorCode.kafkaStorageError.rawValue
            result.errorMessage = "\(error)"
        }
        return result
    }
}
