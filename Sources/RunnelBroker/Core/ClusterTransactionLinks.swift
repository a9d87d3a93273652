// ClusterTransactionLinks: what transactions need between brokers in cluster mode. The coordinator of
// a transactional id leads that id's `__transaction_state` partition; the partitions of a transaction
// are led by any broker. So markers go to each partition's leader (the local path when it is this
// broker, WriteTxnMarkers to the leader otherwise), and a partition leader verifies a transactional
// write (KIP-890 part 1) with the coordinator wherever it is (in process, or AddPartitionsToTxn with
// verifyOnly). Control requests share one connection per broker.
import KafkaProtocol
import Logging
import NIOCore
import RunnelClient
import RunnelCluster
import RunnelTransactions
import Synchronization

/// One connection per broker for control requests (markers, verification), reopened when closed.
final class BrokerLinkPool: Sendable {
    private let store: any MetadataStore
    private let nodeId: Int32
    private let link: InterBrokerLink
    private let connections = Mutex<[Int32: BrokerConnection]>([:])

    init(store: any MetadataStore, nodeId: Int32, link: InterBrokerLink = InterBrokerLink()) {
        self.store = store
        self.nodeId = nodeId
        self.link = link
    }

    /// An open connection to broker `node`.
    func connection(to node: Int32) async throws -> BrokerConnection {
        if let open = connections.withLock({ $0[node] }), open.isActive { return open }
        guard let address = store.image.brokers[node].flatMap({ link.address(of: $0) }) else {
            throw KafkaClientError.connectionFailed(address: "broker \(node)", reason: "not registered in the cluster")
        }
        var configuration = ConnectionConfiguration()
        configuration.clientId = "runnel-broker-\(nodeId)"
        configuration.connectTimeout = .seconds(3)
        configuration.requestTimeout = .seconds(10)
        link.apply(&configuration)
        let opened = try await BrokerConnection.connect(to: address, configuration: configuration)
        let replaced = connections.withLock { all -> BrokerConnection? in
            defer { all[node] = opened }
            return all[node]
        }
        await replaced?.close()
        return opened
    }

    /// Drops a connection after a failure (the next request reconnects).
    func drop(_ node: Int32) async {
        let dropped = connections.withLock { $0.removeValue(forKey: node) }
        await dropped?.close()
    }

    func shutdown() async {
        let all = connections.withLock { c -> [BrokerConnection] in
            defer { c.removeAll() }
            return Array(c.values)
        }
        for connection in all { await connection.close() }
    }
}

/// Markers to every partition of a transaction, wherever its leader is.
struct ClusterMarkerWriter: TransactionMarkerWriter {
    let local: PartitionMarkerWriter
    let store: any MetadataStore
    let links: BrokerLinkPool
    let nodeId: Int32
    let logger: Logger

    func write(_ markers: TransactionMarkers) async -> [TopicPartition: ErrorCode] {
        // Partitions by leader: this broker's go through the local path, the others' in one
        // WriteTxnMarkers per leader.
        var byLeader: [Int32: [TopicPartition]] = [:]
        var results: [TopicPartition: ErrorCode] = [:]
        for target in markers.partitions {
            guard let state = store.partitionState(target) else {
                results[target] = .unknownTopicOrPartition
                continue
            }
            guard state.leader != PartitionState.noLeader else {
                results[target] = .notLeaderOrFollower
                continue
            }
            byLeader[state.leader, default: []].append(target)
        }
        await withTaskGroup(of: [TopicPartition: ErrorCode].self) { group in
            for (leader, targets) in byLeader {
                var subset = markers
                subset.partitions = Set(targets)
                group.addTask {
                    leader == nodeId ? await local.write(subset) : await remote(subset, leader: leader)
                }
            }
            for await partial in group { results.merge(partial) { $1 } }
        }
        return results
    }

    private func remote(_ markers: TransactionMarkers, leader: Int32) async -> [TopicPartition: ErrorCode] {
        var marker = WriteTxnMarkersRequest.WritableTxnMarker()
        marker.producerId = markers.producerId
        marker.producerEpoch = markers.producerEpoch
        marker.transactionResult = markers.result == .commit
        marker.coordinatorEpoch = markers.coordinatorEpoch
        marker.topics = Dictionary(grouping: markers.partitions, by: \.topic).map { topic, partitions in
            var entry = WriteTxnMarkersRequest.WritableTxnMarkerTopic()
            entry.name = topic
            entry.partitionIndexes = partitions.map(\.partition)
            return entry
        }
        var request = WriteTxnMarkersRequest()
        request.markers = [marker]
        do {
            let connection = try await links.connection(to: leader)
            let version = connection.apiVersions.negotiatedVersion(for: .writeTxnMarkers, atMost: 1)
            let response = try await connection.send(request, version: version)
            var results: [TopicPartition: ErrorCode] = [:]
            for answer in response.markers {
                for topic in answer.topics {
                    for partition in topic.partitions {
                        results[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] =
                            ErrorCode(rawValue: partition.errorCode)
                    }
                }
            }
            // Anything the leader did not answer for is retried with the rest.
            for target in markers.partitions where results[target] == nil { results[target] = .unknownServerError }
            return results
        } catch {
            logger.warning("could not send transaction markers to a partition leader; retrying",
                           metadata: ["leader": "\(leader)", "error": "\(error)"])
            await links.drop(leader)
            return Dictionary(uniqueKeysWithValues: markers.partitions.map { ($0, ErrorCode.coordinatorNotAvailable) })
        }
    }
}

/// KIP-890 part 1 verification with a coordinator on another broker.
struct RemoteTransactionVerifier: Sendable {
    let locator: CoordinatorLocator
    let links: BrokerLinkPool
    let nodeId: Int32

    /// The coordinator's node for `transactionalId` when it is another broker, nil when it is this one
    /// (or unknown: the local coordinator answers NOT_COORDINATOR then).
    func remoteCoordinator(for transactionalId: String) -> Int32? {
        guard let node = locator.locate(keyType: 1, key: transactionalId), node.nodeId != nodeId else { return nil }
        return node.nodeId
    }

    /// Asks coordinator `node` whether `partition` is in the producer's ongoing transaction
    /// (AddPartitionsToTxn v4+, verifyOnly) — or, with `add` (transactions v2's implicit add), to add
    /// it; returns its error for the partition.
    func verify(at node: Int32, transactionalId: String, producerId: Int64, producerEpoch: Int16,
                partition: TopicPartition, add: Bool = false) async -> ErrorCode {
        var transaction = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction()
        transaction.transactionalId = transactionalId
        transaction.producerId = producerId
        transaction.producerEpoch = producerEpoch
        transaction.verifyOnly = !add
        var topic = AddPartitionsToTxnRequest.AddPartitionsToTxnTopic()
        topic.name = partition.topic
        topic.partitions = [partition.partition]
        transaction.topics = [topic]
        var request = AddPartitionsToTxnRequest()
        request.transactions = [transaction]
        do {
            let connection = try await links.connection(to: node)
            guard let version = connection.apiVersions.negotiatedVersion(for: .addPartitionsToTxn, atMost: 5),
                  version >= 4 else { return .coordinatorNotAvailable }
            let response = try await connection.send(request, version: version)
            if response.errorCode != 0 { return ErrorCode(rawValue: response.errorCode) }
            for result in response.resultsByTransaction where result.transactionalId == transactionalId {
                for topicResult in result.topicResults where topicResult.name == partition.topic {
                    for p in topicResult.resultsByPartition where p.partitionIndex == partition.partition {
                        return ErrorCode(rawValue: p.partitionErrorCode)
                    }
                }
            }
            return .unknownServerError
        } catch {
            await links.drop(node)
            return .coordinatorNotAvailable
        }
    }
}
