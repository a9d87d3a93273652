// Writing to stdout/stderr: lines, raw bytes, JSON documents and aligned tables.
import Foundation
import NIOCore

/// Output helpers for the CLI.
enum Terminal {
    /// Prints a line to stderr.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Writes the readable bytes of `buffer` to stdout (unbuffered, all of it unless stdout closed).
    static func write(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { raw in
            guard var base = raw.baseAddress else { return }
            var remaining = raw.count
            while remaining > 0 {
                let written = Foundation.write(STDOUT_FILENO, base, remaining)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                remaining -= written
                base += written
            }
        }
    }

    /// Flushes the C stdio buffers (after `print`).
    static func flush() { fflush(nil) }

    /// Prints `value` as pretty, key-sorted JSON.
    static func printJSON<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// Prints rows under `headers`, columns padded to their widest cell.
    static func printTable(_ headers: [String], _ rows: [[String]]) {
        print(renderTable(headers, rows), terminator: "")
    }

    /// The text of a table (for tests and composition).
    static func renderTable(_ headers: [String], _ rows: [[String]]) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                text += isLast ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            return text + "\n"
        }
        return line(headers) + rows.map(line).joined()
    }
}
