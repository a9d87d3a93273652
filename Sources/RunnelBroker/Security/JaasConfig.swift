// JaasConfig: the `sasl.jaas.config` value, parsed as Kafka's JaasConfig parser reads it.

/// A JAAS login configuration: `LoginModuleClass controlFlag key="value" key=value ...;` repeated.
/// Values are quoted (`"..."`, backslash escapes) or bare words; `//` and `/* */` comments are
/// skipped, as Java's `StreamTokenizer` does for Kafka.
public struct JaasConfig: Sendable, Equatable {
    /// One login module entry.
    public struct Module: Sendable, Equatable {
        /// The login module class (`org.apache.kafka.common.security.plain.PlainLoginModule`).
        public var loginModule: String
        /// `required`, `requisite`, `sufficient` or `optional`.
        public var controlFlag: String
        /// The options, in order of appearance (a repeated key keeps its last value).
        public var options: [String: String]
    }

    /// Why a JAAS config cannot be read.
    public struct ParseError: Error, CustomStringConvertible {
        /// What is wrong, and where.
        public var reason: String
        public var description: String { "invalid JAAS config: \(reason)" }
    }

    /// The login modules, in order.
    public var modules: [Module]

    /// Parses `text`.
    public init(parsing text: String) throws(ParseError) {
        var tokens = try Self.tokenize(text)[...]
        var modules: [Module] = []
        while let first = tokens.first {
            guard case .word(let module) = first else { throw ParseError(reason: "expected a login module class name") }
            tokens = tokens.dropFirst()
            guard case .word(let flag)? = tokens.first,
                  ["required", "requisite", "sufficient", "optional"].contains(flag.lowercased())
            else { throw ParseError(reason: "expected a control flag (required, requisite, sufficient, optional) after \(module)") }
            tokens = tokens.dropFirst()
            var options: [String: String] = [:]
            while true {
                guard let token = tokens.first else { throw ParseError(reason: "missing ';' at the end of \(module)") }
                tokens = tokens.dropFirst()
                if case .semicolon = token { break }
                guard case .word(let key) = token else { throw ParseError(reason: "expected an option name in \(module)") }
                guard case .equals? = tokens.first else { throw ParseError(reason: "expected '=' after option \(key)") }
                tokens = tokens.dropFirst()
                switch tokens.first {
                case .word(let value)?, .quoted(let value)?: options[key] = value
                default: throw ParseError(reason: "expected a value for option \(key)")
                }
                tokens = tokens.dropFirst()
            }
            modules.append(Module(loginModule: module, controlFlag: flag.lowercased(), options: options))
        }
        guard !modules.isEmpty else { throw ParseError(reason: "no login module") }
        self.modules = modules
    }

    /// The `user_NAME="password"` entries of every module (PLAIN's users).
    public var plainUsers: [String: String] {
        var users: [String: String] = [:]
        for module in modules {
            for (key, value) in module.options where key.hasPrefix("user_") && key.count > 5 {
                users[String(key.dropFirst(5))] = value
            }
        }
        return users
    }

    /// The first module's `username` and `password` options (what this side sends as a client).
    public var clientCredentials: (username: String, password: String)? {
        for module in modules {
            if let username = module.options["username"], let password = module.options["password"] {
                return (username, password)
            }
        }
        return nil
    }

    private enum Token: Equatable {
        case word(String), quoted(String), equals, semicolon
    }

    private static func isWordCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "-" || c == "_" || c == "$" || c == "." || c == "@" || c == ":" || c == "+"
    }

    private static func tokenize(_ text: String) throws(ParseError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "/" {
                while i < chars.count && !chars[i].isNewline { i += 1 }
            } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                i += 2
                while i + 1 < chars.count && !(chars[i] == "*" && chars[i + 1] == "/") { i += 1 }
                guard i + 1 < chars.count else { throw ParseError(reason: "unterminated comment") }
                i += 2
            } else if c == "=" {
                tokens.append(.equals)
                i += 1
            } else if c == ";" {
                tokens.append(.semicolon)
                i += 1
            } else if c == "\"" {
                var value = ""
                i += 1
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == "\"" { closed = true; i += 1; break }
                    if d == "\\" && i + 1 < chars.count {
                        let e = chars[i + 1]
                        switch e {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        default: value.append(e)
                        }
                        i += 2
                        continue
                    }
                    value.append(d)
                    i += 1
                }
                guard closed else { throw ParseError(reason: "unterminated quoted value") }
                tokens.append(.quoted(value))
            } else if isWordCharacter(c) {
                var word = ""
                while i < chars.count && isWordCharacter(chars[i]) {
                    word.append(chars[i])
                    i += 1
                }
                tokens.append(.word(word))
            } else {
                throw ParseError(reason: "unexpected character '\(c)'")
            }
        }
        return tokens
    }
}
