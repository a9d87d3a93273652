// IOUringAvailability: whether this kernel lets the tests open an io_uring ring, and so whether the
// io_uring variants run (always under CI=true, where a missing ring fails them instead of skipping).
import RunnelTestSupport
import Testing
@testable import RunnelStorage

enum IOUringAvailability {
    /// True when a small ring can be set up here (no seccomp filter, a recent enough kernel).
    static let isAvailable: Bool = {
        guard let backend = try? IOUringBackend(entries: 8) else { return false }
        backend.close()
        return true
    }()

    /// Whether io_uring tests run: where a ring is available, and always under CI=true.
    static var runs: Bool { Prerequisites.runs(whenAvailable: isAvailable) }

    /// Why an io_uring test is skipped.
    static let missingReason: Comment = "io_uring is unavailable on this kernel (seccomp or too old)"
}
