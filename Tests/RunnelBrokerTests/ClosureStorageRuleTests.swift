// Decision 0026: no closure is held directly as the value of a generic lock (`Mutex<(() -> Bool)?>`).
// Every `withLock` on such a value converts the closure to the generic representation and back and
// stores the converted one: two reabstraction thunks more per access. A hook read on every request or
// write grew into a chain as long as the broker's uptime, each call walked all of it, and the walk
// finally overflowed the thread's stack. The closures live in structs instead (`ClusterHooks`).
import Foundation
import Synchronization
import Testing

@Suite struct ClosureStorageRuleTests {
    /// The lock types whose `withLock` hands out the value `inout` through a generic parameter.
    static let containers = ["Mutex<", "NIOLockedValueBox<", "LockedValueBox<"]

    @Test func noSourceHoldsAClosureAsALockedValue() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(atPath: root.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        #expect(files.count > 100, "the scan found too few sources under \(root.path)")
        // Each file's code lines (comments left out) with their line numbers.
        let sources = try files.map { file in
            (file, try String(contentsOfFile: root.appendingPathComponent(file).path, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                .filter { !$0.element.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
                .map { (number: $0.offset + 1, text: String($0.element)) })
        }
        // Names that stand for a function type (`typealias Completion = @Sendable (…) -> Void`).
        let aliases = Set(sources.flatMap { $0.1 }.compactMap { Self.functionTypeAlias($0.text) })
        #expect(aliases.contains("DeliveryCallback"), "the typealias scan found none of the known function aliases")
        var offenders: [String] = []
        for (file, lines) in sources {
            for line in lines {
                for argument in Self.lockedValueTypes(in: line.text) where Self.holdsClosure(argument, aliases: aliases) {
                    offenders.append("\(file):\(line.number): \(argument)")
                }
            }
        }
        #expect(offenders.isEmpty, "closures held directly as a lock's value (wrap them in a struct, decision 0026): \(offenders)")
    }

    @Test func theScanRecognisesClosureTypes() {
        #expect(Self.holdsClosure("(@Sendable () -> Bool)?"))
        #expect(Self.holdsClosure("@Sendable (PartitionLog) -> Void"))
        #expect(Self.holdsClosure("((Int) throws -> Void)?"))
        #expect(Self.holdsClosure("(count: Int, done: @Sendable () -> Void)"))
        #expect(!Self.holdsClosure("[@Sendable (Partition, RoleTransition) -> Void]"))
        #expect(!Self.holdsClosure("[ObjectIdentifier: any AppendWaiter]"))
        #expect(!Self.holdsClosure("(results: [TopicPartition: ErrorCode], continuation: CheckedContinuation<Int, Never>?)"))
        #expect(!Self.holdsClosure("ClusterHooks"))
        #expect(Self.holdsClosure("Completion?", aliases: ["Completion"]))
        #expect(!Self.holdsClosure("CompletionBox?", aliases: ["Completion"]))
        #expect(Self.functionTypeAlias("    private typealias Completion = @Sendable (Result<Void, E>) -> Void") == "Completion")
        #expect(Self.functionTypeAlias("typealias Pair = (index: Int, offset: Int64)") == nil)
        #expect(Self.lockedValueTypes(in: "let a = Mutex<(@Sendable () -> Bool)?>(nil)") == ["(@Sendable () -> Bool)?"])
        #expect(Self.lockedValueTypes(in: "let b = Mutex<[String: Set<Int>]>([:])") == ["[String: Set<Int>]"])
    }

    /// What the wrapping buys, measured by behaviour: a closure read out of a struct in a `Mutex` a
    /// million times is still one call deep (held directly, the millionth read overflows the stack).
    @Test func aClosureInAStructSurvivesAMillionReads() {
        struct Hooks: Sendable { var check: (@Sendable () -> Bool)? }
        let hooks = Mutex(Hooks(check: { true }))
        var trues = 0
        for _ in 0..<1_000_000 where hooks.withLock({ $0.check })?() == true { trues += 1 }
        #expect(trues == 1_000_000)
    }

    /// The generic arguments of the lock types on `line` (balanced `<…>`; `->` is not a bracket).
    static func lockedValueTypes(in line: String) -> [String] {
        var found: [String] = []
        for container in containers {
            var search = line.startIndex
            while let range = line.range(of: container, range: search..<line.endIndex) {
                // Only the type itself, not a longer name ending in it (`MyMutex<`).
                if range.lowerBound > line.startIndex, line[line.index(before: range.lowerBound)].isLetter {
                    search = range.upperBound
                    continue
                }
                var depth = 1
                var index = range.upperBound
                var previous: Character = " "
                while index < line.endIndex, depth > 0 {
                    let c = line[index]
                    if c == "<" { depth += 1 } else if c == ">" && previous != "-" { depth -= 1 }
                    previous = c
                    if depth > 0 { index = line.index(after: index) }
                }
                if depth == 0 { found.append(String(line[range.upperBound..<index])) }
                search = index < line.endIndex ? line.index(after: index) : line.endIndex
            }
        }
        return found
    }

    /// The name a `typealias` line gives to a function type, nil for any other line.
    static func functionTypeAlias(_ line: String) -> String? {
        guard let range = line.range(of: "typealias ") else { return nil }
        let rest = line[range.upperBound...]
        guard let equals = rest.firstIndex(of: "=") else { return nil }
        let name = rest[..<equals].trimmingCharacters(in: .whitespaces)
        let value = String(rest[rest.index(after: equals)...])
        return holdsClosure(value) && !name.contains("<") ? name : nil
    }

    /// Whether `type` is a function type (or one of `aliases`), an optional of one or a tuple with one
    /// (all of which a generic value stores in another representation than a concrete context uses).
    static func holdsClosure(_ type: String, aliases: Set<String> = []) -> Bool {
        var t = type.trimmingCharacters(in: .whitespaces)
        while t.hasSuffix("?") || t.hasSuffix("!") { t.removeLast() }
        if aliases.contains(t) { return true }
        if t.hasPrefix("("), t.hasSuffix(")"), closingParen(of: t) == t.index(before: t.endIndex) {
            t = String(t.dropFirst().dropLast())  // `( … )`: a parenthesized type or a tuple
        }
        // An arrow outside every bracket of what is left: a function type, or a tuple element that is one.
        var depth = 0
        var previous: Character = " "
        for c in t {
            switch c {
            case "(", "[", "<": depth += 1
            case ")", "]": depth -= 1
            case ">" where previous == "-":
                if depth == 0 { return true }
            case ">": depth -= 1
            default: break
            }
            previous = c
        }
        return false
    }

    /// The index of the parenthesis closing the one `text` starts with.
    private static func closingParen(of text: String) -> String.Index? {
        var depth = 0
        for index in text.indices {
            if text[index] == "(" { depth += 1 } else if text[index] == ")" {
                depth -= 1
                if depth == 0 { return index }
            }
        }
        return nil
    }
}
