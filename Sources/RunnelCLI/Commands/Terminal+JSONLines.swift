// JSON lines on stdout: one compact, key-sorted JSON document a line, flushed at once (for scripts that
// read a long-running command's events as they happen).
import Foundation

extension Terminal {
    /// Prints `value` as one line of compact, key-sorted JSON and flushes it.
    static func printJSONLine<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(contentsOf: Array("\n".utf8))
        flush()
        FileHandle.standardOutput.write(data)
    }
}
