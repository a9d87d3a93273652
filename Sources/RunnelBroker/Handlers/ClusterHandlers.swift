// ElectLeaders: preferred and unclean leader elections on demand (`kafka-leader-election.sh`,
// `runnel cluster elect-leaders`).
import KafkaProtocol
import RunnelCluster

extension BrokerCore {
    /// Elects leaders for the requested partitions (or every partition when the list is null), with
    /// Kafka's per-partition errors.
    ///
    /// Any broker answers: Kafka forwards ElectLeaders to the controller, here the broker that
    /// receives it makes the same decision from its metadata image and writes it with the same
    /// compare-and-swap on the partition epoch the controller uses — fenced on the controller epoch
    /// when this broker is the controller, else on this broker's own registration (a broker whose
    /// session was lost writes nothing). A decision made from an image that was behind loses the
    /// compare and is made again from the fresh state; the controller corrects any leader that is not
    /// live by the time it sees the change. A broker that is not registered answers NOT_CONTROLLER,
    /// which makes clients retry elsewhere.
    func electLeaders(_ request: ElectLeadersRequest, _ context: HandlerRequest) async -> ElectLeadersResponse {
        var response = ElectLeadersResponse()
        let fencing: MetadataWriteFencing
        if metadataStore.isController, let controller = metadataStore.controller, controller.nodeId == settings.nodeId {
            fencing = .controllerEpoch(controller.epoch)
        } else if metadataStore.registration.isRegistered {
            fencing = .brokerEpoch
        } else {
            return electLeadersFailure(request, context, .notController, "Broker \(settings.nodeId) is not registered in the cluster.")
        }
        guard let type = ElectionType(rawValue: context.version == 0 ? 0 : request.electionType) else {
            return electLeadersFailure(request, context, .invalidRequest, "Unknown election type \(request.electionType).")
        }
        let writer = PartitionStateWriter(store: metadataStore, logger: context.context.logger)
        let image = metadataStore.image
        let everything = request.topicPartitions == nil
        let requested: [(topic: String, partitions: [Int32])] = request.topicPartitions?.map { ($0.topic, $0.partitions) }
            ?? image.topics.keys.sorted().map { name in (name, (0..<Int32(image.topics[name]?.partitions.count ?? 0)).map { $0 }) }
        for (topic, partitions) in requested {
            var result = ElectLeadersResponse.ReplicaElectionResult()
            result.topic = topic
            for index in partitions {
                let outcome = await writer.elect(type, TopicPartition(topic: topic, partition: index), fencing: fencing)
                var entry = ElectLeadersResponse.PartitionResult()
                entry.partitionId = index
                entry.errorMessage = nil
                switch outcome {
                case .changed, .unchanged:
                    entry.errorCode = ErrorCode.none.rawValue
                case .notElected(let failure):
                    // For "every partition" Kafka leaves out the ones that already have the leader.
                    if everything, failure == .electionNotNeeded { continue }
                    entry.errorCode = failure.errorCode.rawValue
                    entry.errorMessage = failure.description
                case .failed(let error):
                    if case .fenced = error {
                        entry.errorCode = ErrorCode.notController.rawValue
                    } else {
                        entry.errorCode = error.errorCode.rawValue
                    }
                    entry.errorMessage = error.description
                }
                result.partitionResult.append(entry)
            }
            response.replicaElectionResults.append(result)
        }
        return response
    }

    /// The answer when the request cannot be served at all: the top-level error (v1+), and the same
    /// error on every requested partition (v0 has no top-level error).
    func electLeadersFailure(_ request: ElectLeadersRequest, _ context: HandlerRequest, _ code: ErrorCode,
                                     _ message: String) -> ElectLeadersResponse {
        var response = ElectLeadersResponse()
        response.errorCode = code.rawValue
        response.replicaElectionResults = (request.topicPartitions ?? []).map { topic in
            var result = ElectLeadersResponse.ReplicaElectionResult()
            result.topic = topic.topic
            result.partitionResult = topic.partitions.map { index in
                var entry = ElectLeadersResponse.PartitionResult()
                entry.partitionId = index
                entry.errorCode = code.rawValue
                entry.errorMessage = message
                return entry
            }
            return result
        }
        return response
    }
}
