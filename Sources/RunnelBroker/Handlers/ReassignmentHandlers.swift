// AlterPartitionReassignments and ListPartitionReassignments: moving partitions to other brokers
// (`kafka-reassign-partitions.sh`, `runnel cluster reassign`). See PartitionReassignment for the rules.
import KafkaProtocol
import RunnelCluster

extension BrokerCore {
    /// The fencing a cluster admin write made on this broker carries (decision 0007): the controller
    /// epoch on the controller, this broker's registration elsewhere; nil when it is not registered
    /// (the request is answered with NOT_CONTROLLER, so clients retry elsewhere).
    var adminWriteFencing: MetadataWriteFencing? {
        if metadataStore.isController, let controller = metadataStore.controller, controller.nodeId == settings.nodeId {
            return .controllerEpoch(controller.epoch)
        }
        return metadataStore.registration.isRegistered ? .brokerEpoch : nil
    }

    /// Starts, replaces or cancels reassignments, with Kafka's per-partition errors. Any broker answers,
    /// as for ElectLeaders: the decision is made from this broker's image and written with the
    /// compare-and-swap the controller uses; the controller completes each reassignment once every
    /// target replica is in the ISR.
    func alterPartitionReassignments(_ request: AlterPartitionReassignmentsRequest,
                                     _ context: HandlerRequest) async -> AlterPartitionReassignmentsResponse {
        var response = AlterPartitionReassignmentsResponse()
        response.errorMessage = nil
        response.allowReplicationFactorChange = request.allowReplicationFactorChange
        guard let fencing = adminWriteFencing else {
            response.errorCode = ErrorCode.notController.rawValue
            response.errorMessage = "Broker \(settings.nodeId) is not registered in the cluster."
            response.responses = request.topics.map { topic in
                var result = AlterPartitionReassignmentsResponse.ReassignableTopicResponse()
                result.name = topic.name
                result.partitions = topic.partitions.map { reassignmentResult($0.partitionIndex, .notController, response.errorMessage) }
                return result
            }
            return response
        }
        let writer = PartitionStateWriter(store: metadataStore, logger: context.context.logger)
        let allowRFChange = context.version >= 1 ? request.allowReplicationFactorChange : true
        for topic in request.topics {
            var result = AlterPartitionReassignmentsResponse.ReassignableTopicResponse()
            result.name = topic.name
            for requested in topic.partitions {
                let key = TopicPartition(topic: topic.name, partition: requested.partitionIndex)
                guard let current = metadataStore.partitionState(key) else {
                    let message = metadataStore.topic(named: topic.name) == nil
                        ? "Unable to find a topic named \(topic.name)."
                        : "Unable to find partition \(topic.name):\(requested.partitionIndex)."
                    result.partitions.append(reassignmentResult(requested.partitionIndex, .unknownTopicOrPartition, message))
                    continue
                }
                let outcome: PartitionWriteOutcome
                if let target = requested.replicas {
                    let currentFactor = current.targetReplicas.count
                    if !allowRFChange, target.count != currentFactor {
                        result.partitions.append(reassignmentResult(
                            requested.partitionIndex, .invalidReplicationFactor,
                            "The replication factor is changed from \(currentFactor) to \(target.count)"))
                        continue
                    }
                    outcome = await writer.reassign(key, to: target, fencing: fencing)
                } else {
                    outcome = await writer.cancelReassignment(key, allowUnclean: uncleanElectionAllowed(topic.name), fencing: fencing)
                }
                switch outcome {
                case .changed, .unchanged:
                    result.partitions.append(reassignmentResult(requested.partitionIndex, .none, nil))
                case .notElected(let failure):
                    result.partitions.append(reassignmentResult(requested.partitionIndex, failure.errorCode, failure.description))
                case .failed(let error):
                    let code: ErrorCode = if case .fenced = error { .notController } else { error.errorCode }
                    result.partitions.append(reassignmentResult(requested.partitionIndex, code, error.description))
                }
            }
            response.responses.append(result)
        }
        return response
    }

    /// The reassignments in progress: every one (null topics) or those of the requested partitions.
    func listPartitionReassignments(_ request: ListPartitionReassignmentsRequest,
                                    _ context: HandlerRequest) -> HandlerResult<ListPartitionReassignmentsResponse> {
        var response = ListPartitionReassignmentsResponse()
        response.errorMessage = nil
        guard metadataStore.registration.isRegistered else {
            response.errorCode = ErrorCode.notController.rawValue
            response.errorMessage = "Broker \(settings.nodeId) is not registered in the cluster."
            return .now(response)
        }
        let image = metadataStore.image
        let requested: [(String, [Int32])] = request.topics?.map { ($0.name, $0.partitionIndexes) }
            ?? image.topics.keys.sorted().map { name in (name, (0..<Int32(image.topics[name]?.partitions.count ?? 0)).map { $0 }) }
        for (name, indexes) in requested {
            guard let topic = image.topics[name] else { continue }
            var ongoing = ListPartitionReassignmentsResponse.OngoingTopicReassignment()
            ongoing.name = name
            for index in indexes where index >= 0 && Int(index) < topic.partitions.count {
                let state = topic.partitions[Int(index)]
                guard state.isReassigning else { continue }
                var partition = ListPartitionReassignmentsResponse.OngoingPartitionReassignment()
                partition.partitionIndex = index
                partition.replicas = state.replicas
                partition.addingReplicas = state.addingReplicas
                partition.removingReplicas = state.removingReplicas
                ongoing.partitions.append(partition)
            }
            if !ongoing.partitions.isEmpty { response.topics.append(ongoing) }
        }
        return .now(response)
    }

    /// Whether `topic` allows unclean leader election (a cancellation that needs one is refused otherwise).
    func uncleanElectionAllowed(_ topic: String) -> Bool {
        guard let metadata = metadataStore.topic(named: topic) else { return false }
        let overrides = (try? TopicConfig.parseOverrides(metadata.configs)) ?? [:]
        return topicConfigs.broker.topicConfig(overrides: overrides).uncleanLeaderElectionEnable
    }

    private func reassignmentResult(_ index: Int32, _ code: ErrorCode,
                                    _ message: String?) -> AlterPartitionReassignmentsResponse.ReassignablePartitionResponse {
        var entry = AlterPartitionReassignmentsResponse.ReassignablePartitionResponse()
        entry.partitionIndex = index
        entry.errorCode = code.rawValue
        entry.errorMessage = message
        return entry
    }
}
