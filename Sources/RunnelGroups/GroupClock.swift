// GroupClock: where the group coordinator reads the time, so tests can drive timeouts by hand.
import Foundation

/// A source of wall-clock milliseconds. The coordinator only reads it; its timer task (or a test)
/// decides when deadlines are checked.
public protocol GroupClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
}

/// The system wall clock.
public struct SystemGroupClock: GroupClock {
    public init() {}

    public func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
