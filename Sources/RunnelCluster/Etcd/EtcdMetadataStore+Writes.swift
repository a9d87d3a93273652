// Writes of the etcd store: each change is one etcd transaction whose compares guarantee that nothing
// it did not see is overwritten (no lost update) and that a multi-key change lands whole or not at all.
import Foundation
import KafkaProtocol
import RunnelEtcd

extension EtcdMetadataStore {
    /// How many times a read-modify-write retries after losing a compare to a concurrent writer.
    static let casAttempts = 5

    public func createTopic(_ topic: TopicMetadata, assignments: [[Int32]]) async throws(MetadataStoreError) {
        try Self.validate(assignments, topic: topic.name)
        guard assignments.count == Int(topic.partitionCount) else {
            throw .invalidReplicaAssignment(topic.name, reason: "\(assignments.count) replica assignments for \(topic.partitionCount) partitions")
        }
        let record = EtcdTopicRecord(topic, assignments: assignments)
        // Partition keys of an earlier topic of this name were deleted with it; clearing the range again
        // costs nothing and keeps a half-deleted leftover (written by hand) from being taken for ours.
        // A record whose key shares the topics' name space (an alias) of this name refuses it too.
        let sameName = ClusterRecordKind.topicNameKinds.map { EtcdCompare.absent(layout.record($0, key: topic.name)) }
        let txn = EtcdTransaction(compare: [.absent(layout.topic(topic.name))] + sameName,
                                  success: [.put(key: layout.topic(topic.name), value: EtcdRecordCoding.encode(record)),
                                            .delete(.prefix(layout.partitions(of: topic.name)))])
        let result = try await run(txn)
        guard result.succeeded else { throw .topicAlreadyExists(topic.name) }
        await waitUntilApplied(result.revision)
    }

    public func deleteTopic(named name: String) async throws(MetadataStoreError) -> TopicMetadata {
        let key = layout.topic(name)
        // The topic and all its partition keys go in one revision; the range returns what was deleted.
        let txn = EtcdTransaction(compare: [EtcdCompare(key: key, .greater, .version(0))],
                                  success: [.range(.key(key)), .delete(.key(key)), .delete(.prefix(layout.partitions(of: name)))])
        let result = try await run(txn)
        guard result.succeeded, let deleted = result.rangedKeyValues.first else { throw .unknownTopic(name) }
        await waitUntilApplied(result.revision)
        return try Self.topicRecord(deleted).metadata
    }

    public func setPartitionCount(topic name: String, to count: Int32,
                                  newAssignments: [[Int32]]) async throws(MetadataStoreError) {
        try Self.validate(newAssignments, topic: name)
        try await updateTopic(name) { record throws(MetadataStoreError) in
            guard count > record.partitions else {
                throw .invalidPartitions(name, reason: "Topic currently has \(record.partitions) partitions, which is higher than the requested \(count).")
            }
            guard newAssignments.count == Int(count - record.partitions) else {
                throw .invalidReplicaAssignment(name, reason: "Increasing the number of partitions by \(count - record.partitions) but \(newAssignments.count) assignments provided.")
            }
            record.partitions = count
            record.assignments += newAssignments
        }
    }

    public func setConfigs(topic name: String, to configs: [String: String]) async throws(MetadataStoreError) {
        try await updateTopic(name) { record throws(MetadataStoreError) in record.configs = configs }
    }

    public func allocateProducerIdBlock() async throws(MetadataStoreError) -> ProducerIdBlock {
        let key = layout.producerIds
        var current: EtcdKeyValue?
        do { current = try await client.get(key) } catch { throw .unavailable(error) }
        for _ in 0..<Self.casAttempts {
            var start: Int64 = 0
            if let current {
                do throws(RecordError) {
                    start = try EtcdRecordCoding.decode(EtcdProducerIdsRecord.self, from: current.value).nextBlockStart
                } catch {
                    throw .corruptRecord(key: key, reason: error.description)
                }
            }
            let block = ProducerIdBlock(firstProducerId: start, size: configuration.producerIdBlockSize)
            let txn = EtcdTransaction(
                compare: [.unchanged(key, since: current?.modRevision ?? 0)],
                success: [.put(key: key, value: EtcdRecordCoding.encode(EtcdProducerIdsRecord(nextBlockStart: block.end)))],
                failure: [.range(.key(key))])
            let result = try await run(txn)
            if result.succeeded { return block }
            current = result.rangedKeyValues.first
        }
        throw .contention("The producer id counter \(key)")
    }

    public func alterPartition(_ partition: TopicPartition, expectedPartitionEpoch: Int32, to newState: PartitionState,
                               fencing: MetadataWriteFencing) async throws(MetadataStoreError) -> PartitionState {
        try Self.validate([newState.replicas], topic: partition.topic)
        let key = layout.partition(partition)
        let topicKey = layout.topic(partition.topic)
        let fenceCompares = try fencingCompares(fencing)
        // What this broker believes is stored; a failed compare brings what really is.
        var known: (topic: EtcdKeyValue, partition: EtcdKeyValue?)
        do {
            let result = try await client.transaction(EtcdTransaction(compare: [], success: [.range(.key(topicKey)), .range(.key(key))]))
            known = try located(result, partition: partition)
        } catch let error as EtcdError {
            throw .unavailable(error)
        } catch let error as MetadataStoreError {
            throw error
        } catch {
            throw .corruptRecord(key: key, reason: "\(error)")
        }
        for _ in 0..<Self.casAttempts {
            let topicRecord = try Self.topicRecord(known.topic)
            guard partition.partition >= 0, partition.partition < topicRecord.record.partitions else {
                throw .unknownPartition(partition)
            }
            let current = try Self.partitionState(known.partition, index: partition.partition, topic: topicRecord.record)
            guard current.partitionEpoch == expectedPartitionEpoch else {
                throw .stalePartitionEpoch(partition, expected: expectedPartitionEpoch, current: current.partitionEpoch)
            }
            var stored = newState
            stored.partitionEpoch = expectedPartitionEpoch + 1
            let record = EtcdPartitionRecord(topicId: topicRecord.record.topicId, state: stored)
            let txn = EtcdTransaction(
                compare: [.unchanged(key, since: known.partition?.modRevision ?? 0),
                          EtcdCompare(key: topicKey, .equal, .createRevision(known.topic.createRevision))] + fenceCompares,
                success: [.put(key: key, value: EtcdRecordCoding.encode(record))],
                failure: [.range(.key(topicKey)), .range(.key(key))])
            let result = try await run(txn)
            if result.succeeded {
                await waitUntilApplied(result.revision)
                return stored
            }
            let previousTopic = known.topic.createRevision
            do { known = try located(result, partition: partition) } catch {
                throw (error as? MetadataStoreError) ?? .corruptRecord(key: key, reason: "\(error)")
            }
            if known.topic.createRevision != previousTopic { throw .unknownPartition(partition) }
            // Same topic, same partition key revision: only a fencing compare can have failed.
            if known.partition?.modRevision == result.rangedKeyValues.last?.modRevision, !fenceCompares.isEmpty,
               try Self.partitionState(known.partition, index: partition.partition, topic: Self.topicRecord(known.topic).record)
                .partitionEpoch == expectedPartitionEpoch {
                throw .fenced(fencingDescription(fencing))
            }
        }
        throw .contention("Partition \(partition)")
    }

    public func writeRecords(_ writes: [ClusterRecordWrite]) async throws(MetadataStoreError) -> [ClusterRecord?] {
        try ClusterRecordLimits.validate(writes)
        let keys = writes.map { layout.record($0.kind, key: $0.key) }
        let conditional = zip(writes, keys).filter { $0.0.expectedVersion != nil }
        let compares = conditional.map { write, key -> EtcdCompare in
            let version = write.expectedVersion ?? 0
            return version == 0 ? .absent(key) : EtcdCompare(key: key, .equal, .modRevision(version))
        }
        // A put of a kind sharing the topics' name space (an alias) requires that no topic has the name.
        let topicKeys = writes.filter { write in
            if case .put = write.operation { return write.kind.sharesTopicNames }
            return false
        }.map { layout.topic($0.key) }
        let operations = zip(writes, keys).map { write, key -> EtcdOperation in
            switch write.operation {
            case .put(let value): .put(key: key, value: Data(value.utf8))
            case .delete: .delete(.key(key))
            }
        }
        // On failure the conditional keys come back, one range each, to name the record that moved.
        let result = try await run(EtcdTransaction(compare: compares + topicKeys.map { .absent($0) }, success: operations,
                                                   failure: conditional.map { .range(.key($0.1)) } + topicKeys.map { .range(.key($0)) }))
        guard result.succeeded else {
            let found = Dictionary(result.rangedKeyValues.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            for (write, key) in zip(writes, writes.map { layout.topic($0.key) }) where topicKeys.contains(key) && found[key] != nil {
                throw .topicAlreadyExists(write.key)
            }
            for (write, key) in conditional {
                let current = found[key].map {
                    ClusterRecord(kind: write.kind, key: write.key, value: String(decoding: $0.value, as: UTF8.self),
                                  version: $0.modRevision)
                }
                if !write.accepts(current) {
                    throw .recordVersionMismatch(write.kind, key: write.key, expected: write.expectedVersion ?? 0,
                                                 current: current?.version)
                }
            }
            // Every condition holds now: a concurrent writer moved a record and moved it back in between.
            throw .contention("Records \(writes.map { "\($0.kind)/\($0.key)" }.joined(separator: ", "))")
        }
        await waitUntilApplied(result.revision)
        return writes.map { write in
            guard case .put(let value) = write.operation else { return nil }
            return ClusterRecord(kind: write.kind, key: write.key, value: value, version: result.revision)
        }
    }

    public func requestControlledShutdown() async throws(MetadataStoreError) {
        let (registration, keeper) = state.withLock { state in
            state.controlledShutdown = true
            return (state.registration, state.keeper)
        }
        guard case .registered(let epoch) = registration, let keeper, keeper.isAlive else {
            throw .fenced("broker \(nodeId) is not registered, so it leads nothing the controller could move")
        }
        // The registration is re-put under the same lease only while it is still this session's: the
        // broker epoch (its create revision) stays, the record gains the mark.
        let key = layout.broker(nodeId)
        var record = configuration.registration
        record.inControlledShutdown = true
        let txn = EtcdTransaction(
            compare: [EtcdCompare(key: key, .equal, .createRevision(epoch)), EtcdCompare(key: key, .equal, .lease(keeper.lease.id))],
            success: [.put(key: key, value: EtcdRecordCoding.encode(record), lease: keeper.lease.id)])
        let result = try await run(txn)
        guard result.succeeded else {
            throw .fenced("broker \(nodeId)'s registration (broker epoch \(epoch)) is no longer current")
        }
        await waitUntilApplied(result.revision)
        logger.info("controlled shutdown requested", metadata: ["node_id": "\(nodeId)", "broker_epoch": "\(epoch)"])
    }

    // MARK: Helpers

    /// Read-modify-write of a topic record, compared on its mod revision; retried on a concurrent change.
    private func updateTopic(_ name: String,
                             _ change: (inout EtcdTopicRecord) throws(MetadataStoreError) -> Void) async throws(MetadataStoreError) {
        let key = layout.topic(name)
        var current: EtcdKeyValue?
        do { current = try await client.get(key) } catch { throw .unavailable(error) }
        for _ in 0..<Self.casAttempts {
            guard let stored = current else { throw .unknownTopic(name) }
            var record = try Self.topicRecord(stored).record
            try change(&record)
            let txn = EtcdTransaction(compare: [.unchanged(key, since: stored.modRevision)],
                                      success: [.put(key: key, value: EtcdRecordCoding.encode(record))],
                                      failure: [.range(.key(key))])
            let result = try await run(txn)
            if result.succeeded {
                await waitUntilApplied(result.revision)
                return
            }
            current = result.rangedKeyValues.first
        }
        throw .contention("Topic \(name)")
    }

    private func run(_ txn: EtcdTransaction) async throws(MetadataStoreError) -> EtcdTransactionResult {
        guard !state.withLock({ $0.closed }) else { throw .shutDown }
        do { return try await client.transaction(txn) } catch { throw .unavailable(error) }
    }

    /// The topic key and the partition key from a transaction that ranged both (in that order).
    private func located(_ result: EtcdTransactionResult, partition: TopicPartition) throws -> (topic: EtcdKeyValue, partition: EtcdKeyValue?) {
        let ranges = result.results.compactMap { result -> [EtcdKeyValue]? in
            if case .range(let kvs) = result { return kvs }
            return nil
        }
        guard ranges.count == 2, let topic = ranges[0].first else { throw MetadataStoreError.unknownPartition(partition) }
        return (topic, ranges[1].first)
    }

    private func fencingCompares(_ fencing: MetadataWriteFencing) throws(MetadataStoreError) -> [EtcdCompare] {
        switch fencing {
        case .none:
            return []
        case .brokerEpoch:
            guard case .registered(let epoch) = registration else { throw .fenced(fencingDescription(fencing)) }
            return [EtcdCompare(key: layout.broker(nodeId), .equal, .createRevision(epoch))]
        case .controllerEpoch(let epoch):
            return [EtcdCompare(key: layout.controller, .equal, .createRevision(epoch))]
        }
    }

    private func fencingDescription(_ fencing: MetadataWriteFencing) -> String {
        switch fencing {
        case .none: "no fencing"
        case .brokerEpoch: "broker \(nodeId)'s registration is not current (its lease was lost)"
        case .controllerEpoch(let epoch): "controller epoch \(epoch) is no longer current"
        }
    }

    static func topicRecord(_ kv: EtcdKeyValue) throws(MetadataStoreError) -> (record: EtcdTopicRecord, metadata: TopicMetadata) {
        do throws(RecordError) {
            let record = try EtcdRecordCoding.decode(EtcdTopicRecord.self, from: kv.value)
            return (record, try record.metadata())
        } catch {
            throw .corruptRecord(key: kv.key, reason: error.description)
        }
    }

    static func partitionState(_ kv: EtcdKeyValue?, index: Int32, topic: EtcdTopicRecord) throws(MetadataStoreError) -> PartitionState {
        if let kv {
            do throws(RecordError) {
                let record = try EtcdRecordCoding.decode(EtcdPartitionRecord.self, from: kv.value)
                if record.topicId == topic.topicId { return record.state }
            } catch {
                throw .corruptRecord(key: kv.key, reason: error.description)
            }
        }
        let position = Int(index)
        return .initial(replicas: position < topic.assignments.count ? topic.assignments[position] : [])
    }

    /// Replica lists must be non-empty and name each broker once.
    static func validate(_ assignments: [[Int32]], topic: String) throws(MetadataStoreError) {
        for replicas in assignments {
            guard !replicas.isEmpty else { throw .invalidReplicaAssignment(topic, reason: "A partition has no replicas.") }
            guard Set(replicas).count == replicas.count else {
                throw .invalidReplicaAssignment(topic, reason: "Replica assignment \(replicas) names a broker twice.")
            }
        }
    }
}
