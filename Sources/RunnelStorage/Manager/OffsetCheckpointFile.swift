// OffsetCheckpointFile: Kafka's per-log-dir offset checkpoint files (recovery-point-offset-checkpoint,
// log-start-offset-checkpoint, replication-offset-checkpoint): "0", a count, then "topic partition offset".
import KafkaProtocol
import NIOCore

extension TopicPartition {
    /// Parses a partition directory name (`<topic>-<partition>`); nil for anything else (including
    /// `-delete` directories).
    init?(directoryName name: String) {
        guard !name.hasSuffix("-delete"), !name.hasPrefix("."), let dash = name.lastIndex(of: "-"),
              let partition = Int32(name[name.index(after: dash)...]), partition >= 0, dash != name.startIndex else { return nil }
        self.init(topic: String(name[..<dash]), partition: partition)
    }
}

enum OffsetCheckpointFile {
    static let recoveryPoint = "recovery-point-offset-checkpoint"
    static let logStartOffset = "log-start-offset-checkpoint"
    static let highWatermark = "replication-offset-checkpoint"
    static let cleanerOffset = "cleaner-offset-checkpoint"

    /// Reads a checkpoint; a missing or malformed file reads as empty.
    static func read(_ path: String) -> [TopicPartition: Int64] {
        guard let buffer = try? FileSystem.readAll(path) else { return [:] }
        let lines = String(buffer: buffer).split(separator: "\n")
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count == lines.count - 2 else { return [:] }
        var offsets: [TopicPartition: Int64] = [:]
        for line in lines.dropFirst(2) {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let partition = Int32(parts[1]), let offset = Int64(parts[2]) else { return [:] }
            offsets[TopicPartition(topic: String(parts[0]), partition: partition)] = offset
        }
        return offsets
    }

    static func write(_ path: String, directory: String, offsets: [TopicPartition: Int64]) throws(StorageError) {
        var text = "0\n\(offsets.count)\n"
        for (key, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            text += "\(key.topic) \(key.partition) \(offset)\n"
        }
        try FileSystem.writeAtomically(path, bytes: ByteBuffer(string: text), directory: directory)
    }
}

/// The per-partition values kept in a log dir's checkpoint files (nil: not recorded).
struct PartitionCheckpoints: Sendable {
    var recoveryPoint: Int64?
    var logStartOffset: Int64?
    var highWatermark: Int64?
    var firstDirtyOffset: Int64?
}
