// Where `runnel produce` reads its lines: stdin or files, one record per line (empty lines included).
import Foundation

/// A named source of lines (a file or stdin), read with getline so large inputs stream.
final class LineSource {
    let name: String
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    /// Number of the last line read (1-based).
    private(set) var lineNumber = 0

    private init(name: String, file: UnsafeMutablePointer<FILE>, ownsFile: Bool) {
        self.name = name
        self.file = file
        self.ownsFile = ownsFile
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// Sources for `paths` (stdin when empty). Throws a usage error for unreadable files.
    static func sources(_ paths: [String]) throws -> [LineSource] {
        guard !paths.isEmpty else {
            guard let input = fdopen(STDIN_FILENO, "r") else { throw CLIError.failure("cannot read stdin") }
            return [LineSource(name: "stdin", file: input, ownsFile: false)]
        }
        return try paths.map { path in
            guard let file = fopen(path, "r") else {
                throw CLIError.usage("cannot read '\(path)': \(String(cString: strerror(errno)))",
                                     hint: "check the path and permissions")
            }
            return LineSource(name: path, file: file, ownsFile: true)
        }
    }

    /// False when reading more would block (a pipe or terminal with nothing waiting): the caller should
    /// send what it has rather than wait for a full chunk.
    var hasInputWaiting: Bool {
        var descriptor = pollfd(fd: fileno(file), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// The next line without its line ending (`\n` or `\r\n`), or nil at the end.
    func nextLine() -> String? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        lineNumber += 1
        var length = count
        if length > 0 && buffer[length - 1] == 10 { length -= 1 }
        if length > 0 && buffer[length - 1] == 13 { length -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
