// SslPrincipalMapper: `ssl.principal.mapping.rules` — a client certificate's distinguished name to a
// principal name, with Kafka's rule syntax.
import Foundation

/// Kafka's `ssl.principal.mapping.rules`: a comma-separated list of `RULE:pattern/replacement/[LU]` and
/// `DEFAULT`. The first rule whose pattern matches the whole distinguished name (RFC 2253 form,
/// `CN=alice,OU=eng,O=Example`) gives the name; `DEFAULT` gives the distinguished name itself.
/// No matching rule fails the connection's authentication, as in Kafka.
public struct SslPrincipalMapper: Sendable, Equatable {
    /// One rule.
    public enum Rule: Sendable, Equatable {
        case defaultRule
        case rule(pattern: String, replacement: String, caseChange: Character?)
    }

    /// The rules, in order.
    public let rules: [Rule]

    /// `DEFAULT` alone.
    public static let defaultMapper = SslPrincipalMapper(rules: [.defaultRule])

    init(rules: [Rule]) { self.rules = rules }

    /// Why a rules setting cannot be used.
    public struct ParseError: Error, CustomStringConvertible {
        /// What is wrong.
        public var reason: String
        public var description: String { reason }
    }

    /// Parses the setting's text.
    public init(parsing text: String) throws(ParseError) {
        var rules: [Rule] = []
        var rest = Substring(text)
        func skipSpace() { rest = rest.drop { $0.isWhitespace } }
        skipSpace()
        while !rest.isEmpty {
            if rest.hasPrefix("DEFAULT") {
                rules.append(.defaultRule)
                rest = rest.dropFirst("DEFAULT".count)
            } else if rest.hasPrefix("RULE:") {
                rest = rest.dropFirst("RULE:".count)
                let pattern = try Self.readUntilSlash(&rest)
                let replacement = try Self.readUntilSlash(&rest)
                var caseChange: Character?
                if let flag = rest.first, flag == "L" || flag == "U" {
                    caseChange = flag
                    rest = rest.dropFirst()
                }
                do {
                    _ = try NSRegularExpression(pattern: pattern)
                } catch {
                    throw ParseError(reason: "invalid pattern '\(pattern)' in ssl.principal.mapping.rules")
                }
                rules.append(.rule(pattern: pattern, replacement: replacement, caseChange: caseChange))
            } else {
                throw ParseError(reason: "expected RULE:pattern/replacement/[LU] or DEFAULT at '\(rest.prefix(40))'")
            }
            skipSpace()
            if rest.first == "," { rest = rest.dropFirst() } else if !rest.isEmpty {
                throw ParseError(reason: "expected ',' between rules at '\(rest.prefix(40))'")
            }
            skipSpace()
        }
        guard !rules.isEmpty else { throw ParseError(reason: "no rules (use DEFAULT)") }
        self.rules = rules
    }

    /// Reads up to the next unescaped `/` (consumed); a backslash keeps the next character.
    private static func readUntilSlash(_ rest: inout Substring) throws(ParseError) -> String {
        var out = ""
        var escaped = false
        while let c = rest.first {
            rest = rest.dropFirst()
            if escaped {
                out.append("\\")
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "/" {
                return out
            } else {
                out.append(c)
            }
        }
        throw ParseError(reason: "unterminated RULE (expected RULE:pattern/replacement/)")
    }

    /// The principal name for `distinguishedName`, or nil when no rule matches.
    public func name(for distinguishedName: String) -> String? {
        for rule in rules {
            switch rule {
            case .defaultRule:
                return distinguishedName
            case .rule(let pattern, let replacement, let caseChange):
                guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
                let range = NSRange(distinguishedName.startIndex..., in: distinguishedName)
                guard let match = regex.firstMatch(in: distinguishedName, range: range), match.range == range else { continue }
                var result = regex.stringByReplacingMatches(in: distinguishedName, range: range, withTemplate: replacement)
                if caseChange == "L" { result = result.lowercased() }
                if caseChange == "U" { result = result.uppercased() }
                return result
            }
        }
        return nil
    }
}
