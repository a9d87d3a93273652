// GlobalOptionHoisting: lets the connection and output options stand before the subcommand
// (`runnel -b host:9092 topic list`), as users of rpk, kcat and Kafka's tools type them.
import ArgumentParser

/// swift-argument-parser only accepts a subcommand's options after the subcommand's name. Users bring
/// the habit of writing global options first, so before parsing, every global option found between
/// `runnel` and the leaf subcommand is moved to just after the leaf subcommand's name, where the
/// subcommand's `ConnectionOptions` / `OutputOptions` parse it. Nothing else is reordered: positional
/// arguments and everything after the leaf stay where they were.
enum GlobalOptionHoisting {
    /// Global options that take a value (`-b x`, `--brokers x`, `--brokers=x`).
    static let optionsWithValue: Set<String> = ["-b", "--brokers", "--timeout", "--client-id", "--format"]

    /// `arguments` (without the program name) with the global options before the leaf subcommand moved
    /// after it; unchanged when there are none, or when they are incomplete (let the parser report it).
    static func reorder(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        var command = root
        var path: [String] = []
        var hoisted: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            if let width = globalOptionWidth(token) {
                guard index + width <= arguments.count else { return arguments }
                hoisted.append(contentsOf: arguments[index..<index + width])
                index += width
            } else if !token.hasPrefix("-"), let next = subcommand(named: token, of: command) {
                path.append(token)
                command = next
                index += 1
            } else {
                break
            }
        }
        guard !hoisted.isEmpty, !path.isEmpty else { return arguments }
        return path + hoisted + arguments[index...]
    }

    /// How many tokens the global option starting at `token` spans (2 for `-b x`, 1 for `--brokers=x`),
    /// or nil when `token` is not a global option.
    private static func globalOptionWidth(_ token: String) -> Int? {
        if optionsWithValue.contains(token) { return 2 }
        if token.hasPrefix("--"), let equals = token.firstIndex(of: "="),
           optionsWithValue.contains(String(token[..<equals])) {
            return 1
        }
        return nil
    }

    private static func subcommand(named name: String, of command: any ParsableCommand.Type) -> (any ParsableCommand.Type)? {
        command.configuration.subcommands.first { candidate in
            let configuration = candidate.configuration
            let candidateName = configuration.commandName ?? kebabCased(String(describing: candidate))
            return candidateName == name || configuration.aliases.contains(name)
        }
    }

    /// The parser's default command name for a type without `commandName`: `TopicList` → `topic-list`.
    private static func kebabCased(_ typeName: String) -> String {
        var result = ""
        for character in typeName {
            if character.isUppercase, !result.isEmpty { result.append("-") }
            result.append(contentsOf: character.lowercased())
        }
        return result
    }
}
