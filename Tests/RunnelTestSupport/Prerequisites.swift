// Prerequisites: how a test that needs something outside the package (the Kafka schemas beside the
// checkout, an io_uring ring) decides between running and being reported as skipped.
import Foundation

/// A test needing an outside prerequisite uses `.enabled(if: Prerequisites.runs(whenAvailable: …), "why")`:
/// on a developer machine without it, the test runner reports it skipped with the reason; under
/// `CI=true` it always runs, and the missing prerequisite fails it (`try #require(…)` inside).
public enum Prerequisites {
    /// True under `CI=true`: nothing may be skipped there.
    public static let areRequired = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether a test whose prerequisite is `available` runs (always under CI, where it then fails).
    public static func runs(whenAvailable available: Bool) -> Bool { available || areRequired }
}
