// PartitionMetadataFile: `partition.metadata` in a partition directory — "version: 0" and
// "topic_id: <base64url topic id>", as Kafka writes it.
import Foundation
import NIOCore

enum PartitionMetadataFile {
    static let name = "partition.metadata"

    static func write(directory: String, topicId: UUID) throws(StorageError) {
        let text = "version: 0\ntopic_id: \(encode(topicId))\n"
        try FileSystem.writeAtomically(directory + "/" + name, bytes: ByteBuffer(string: text), directory: directory)
    }

    /// The topic id, nil when the file is missing or unreadable.
    static func read(directory: String) -> UUID? {
        guard let buffer = try? FileSystem.readAll(directory + "/" + name) else { return nil }
        for line in String(buffer: buffer).split(separator: "\n") where line.hasPrefix("topic_id:") {
            return decode(line.dropFirst("topic_id:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Kafka prints Uuids as unpadded URL-safe base64 of the 16 bytes.
    static func encode(_ id: UUID) -> String {
        let u = id.uuid
        let bytes = Data([u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15])
        return bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> UUID? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count == 16 else { return nil }
        let raw = [UInt8](data)
        return UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                           raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]))
    }
}
