// The JSON values Runnel stores in etcd (sorted keys, so equal records are equal bytes).
import Foundation
import KafkaProtocol

/// `<prefix>/topics/<name>`: the topic and the replica assignment it was created with (one replica
/// list per partition). The partitions' later states live in their own keys.
struct EtcdTopicRecord: Codable, Equatable {
    var name: String
    var topicId: String
    var partitions: Int32
    var replicationFactor: Int16
    var configs: [String: String]
    var isInternal: Bool
    var assignments: [[Int32]]

    enum CodingKeys: String, CodingKey {
        case name, topicId = "topic_id", partitions, replicationFactor = "replication_factor", configs
        case isInternal = "internal", assignments
    }

    init(_ topic: TopicMetadata, assignments: [[Int32]]) {
        name = topic.name
        topicId = topic.topicId.description
        partitions = topic.partitionCount
        replicationFactor = topic.replicationFactor
        configs = topic.configs
        isInternal = topic.isInternal
        self.assignments = assignments
    }

    func metadata() throws(RecordError) -> TopicMetadata {
        guard let id = KafkaUUID(base64: topicId) else { throw RecordError("bad topic id \(topicId)") }
        guard assignments.count == Int(partitions) else {
            throw RecordError("\(assignments.count) assignments for \(partitions) partitions")
        }
        return TopicMetadata(name: name, topicId: id, partitionCount: partitions, replicationFactor: replicationFactor,
                             configs: configs, isInternal: isInternal)
    }
}

/// `<prefix>/partitions/<topic>/<p>`: a partition's state once it differs from the initial one. It
/// carries its topic's id so a record can never be taken for a re-created topic's partition.
struct EtcdPartitionRecord: Codable, Equatable {
    var topicId: String
    var state: PartitionState

    enum CodingKeys: String, CodingKey { case topicId = "topic_id", state }
}

/// `<prefix>/controller`: the elected controller, held under its lease.
struct EtcdControllerRecord: Codable, Equatable {
    var nodeId: Int32
    var incarnationId: String

    enum CodingKeys: String, CodingKey { case nodeId = "node_id", incarnationId = "incarnation_id" }
}

/// `<prefix>/producer_ids`: the first id of the next block to hand out.
struct EtcdProducerIdsRecord: Codable, Equatable {
    var nextBlockStart: Int64

    enum CodingKeys: String, CodingKey { case nextBlockStart = "next_block_start" }
}

/// `<prefix>/cluster_id`.
struct EtcdClusterIdRecord: Codable, Equatable {
    var clusterId: String

    enum CodingKeys: String, CodingKey { case clusterId = "cluster_id" }
}

/// A record that cannot be decoded.
struct RecordError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum EtcdRecordCoding {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // The records hold strings, integers, arrays and string maps: encoding them cannot fail.
        return (try? encoder.encode(value)) ?? Data()
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(RecordError) -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw RecordError("\(error)")
        }
    }
}
