// SchemaLocation: finds the Kafka schema folders (shared/kafka-protocol) next to the package.
import Foundation
import RunnelTestSupport
import Testing

enum SchemaLocation {
    /// The package root, derived from this file's path.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `shared/kafka-protocol`: `$RUNNEL_KAFKA_PROTOCOL_DIR`, else `../shared/kafka-protocol`
    /// relative to the package root (a checkout beside shared/), else two levels up (a worktree).
    static var protocolDirectory: URL? {
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment["RUNNEL_KAFKA_PROTOCOL_DIR"] {
            candidates.append(URL(fileURLWithPath: override))
        }
        candidates.append(packageRoot.appendingPathComponent("../shared/kafka-protocol"))
        candidates.append(packageRoot.appendingPathComponent("../../shared/kafka-protocol"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("messages").path) }
            .map { $0.standardizedFileURL }
    }

    /// The schema folders the generator reads, nil when absent.
    static var schemaDirectories: [String]? {
        guard let base = protocolDirectory else { return nil }
        return [base.appendingPathComponent("messages").path, base.appendingPathComponent("internal").path]
    }

    /// Whether tests reading the schemas run: when present, and always under CI=true (where their
    /// absence fails the test instead of skipping it).
    static var isRequiredOrPresent: Bool { Prerequisites.runs(whenAvailable: schemaDirectories != nil) }

    /// Why such a test cannot read the schemas.
    static let missingReason: Comment = "../shared/kafka-protocol (Kafka's JSON schemas) not found beside the package"
}
