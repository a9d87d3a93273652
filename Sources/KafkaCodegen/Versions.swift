// Versions: a schema version range ("0+", "3-9", "5", "none") and the Swift conditions it yields.
import Foundation

/// A contiguous range of versions as written in the schemas; empty for "none".
public struct Versions: Equatable, Sendable, CustomStringConvertible {
    /// Lowest version, inclusive.
    public var lowest: Int
    /// Highest version, inclusive; nil for an open range ("3+").
    public var highest: Int?
    /// True for "none".
    public var isEmpty: Bool

    public static let none = Versions(lowest: 0, highest: nil, isEmpty: true)
    public static let all = Versions(lowest: 0, highest: nil, isEmpty: false)

    public init(lowest: Int, highest: Int?, isEmpty: Bool = false) {
        self.lowest = lowest
        self.highest = highest
        self.isEmpty = isEmpty
    }

    /// Parses "none", "N", "N+", "N-M".
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "none" {
            self = .none
            return
        }
        if trimmed.hasSuffix("+"), let low = Int(trimmed.dropLast()) {
            self.init(lowest: low, highest: nil)
            return
        }
        let parts = trimmed.split(separator: "-")
        if parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]) {
            self.init(lowest: low, highest: high)
            return
        }
        if let single = Int(trimmed) {
            self.init(lowest: single, highest: single)
            return
        }
        throw CodegenError.invalidSchema("bad version range '\(text)'")
    }

    public func contains(_ version: Int) -> Bool {
        if isEmpty { return false }
        if version < lowest { return false }
        if let highest, version > highest { return false }
        return true
    }

    /// The Swift condition over `variable` that is true for versions in this range, simplified
    /// for versions inside `valid` (the message's valid range). Returns "true" or "false" when
    /// the answer does not depend on the version within `valid`.
    public func condition(_ variable: String, within valid: Versions) -> String {
        if isEmpty || valid.isEmpty { return "false" }
        let validHigh = valid.highest ?? Int.max
        let high = highest ?? Int.max
        if high < valid.lowest || lowest > validHigh { return "false" }
        let needLow = lowest > valid.lowest
        let needHigh = high < validHigh
        if needLow && needHigh {
            if lowest == high { return "\(variable) == \(lowest)" }
            return "(\(variable) >= \(lowest) && \(variable) <= \(high))"
        }
        if needLow { return "\(variable) >= \(lowest)" }
        if needHigh { return "\(variable) <= \(high)" }
        return "true"
    }

    /// Intersection with another range.
    public func intersection(_ other: Versions) -> Versions {
        if isEmpty || other.isEmpty { return .none }
        let low = max(lowest, other.lowest)
        let high: Int?
        switch (highest, other.highest) {
        case (nil, nil): high = nil
        case (let a?, nil): high = a
        case (nil, let b?): high = b
        case (let a?, let b?): high = min(a, b)
        }
        if let high, high < low { return .none }
        return Versions(lowest: low, highest: high)
    }

    /// Versions in `self` that are not in `other`, when that is one contiguous range (else self).
    public func subtracting(_ other: Versions) -> Versions {
        if isEmpty || other.isEmpty { return self }
        let inter = intersection(other)
        if inter.isEmpty { return self }
        if inter.lowest > lowest && (inter.highest == nil || inter.highest == highest) {
            return Versions(lowest: lowest, highest: inter.lowest - 1)
        }
        if inter.lowest <= lowest, let interHigh = inter.highest, interHigh < (highest ?? Int.max) {
            return Versions(lowest: interHigh + 1, highest: highest)
        }
        if inter == self { return .none }
        return self
    }

    public var description: String {
        if isEmpty { return "none" }
        guard let highest else { return "\(lowest)+" }
        return lowest == highest ? "\(lowest)" : "\(lowest)-\(highest)"
    }
}
