// CodeWriter: an indenting line buffer for generated Swift.

/// Accumulates lines of Swift with four-space indentation.
struct CodeWriter {
    private(set) var text = ""
    private var level = 0

    mutating func line(_ content: String) {
        if content.isEmpty {
            text += "\n"
            return
        }
        text += String(repeating: "    ", count: level) + content + "\n"
    }

    mutating func blank() { text += "\n" }
    mutating func indent() { level += 1 }
    mutating func dedent() { level = max(0, level - 1) }
}
