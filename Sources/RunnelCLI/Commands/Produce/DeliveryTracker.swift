// Counts deliveries of `runnel produce` and reports each failed record with where it came from.
import Foundation
import RunnelClient
import Synchronization

/// Collects delivery results from producer callbacks (any thread).
final class DeliveryTracker: Sendable {
    struct Failure: Encodable {
        var record: String
        var error: String
    }

    struct Summary: Encodable {
        var delivered: Int
        var failed: Int
        var failures: [Failure]
    }

    private struct State {
        var delivered = 0
        var failures: [Failure] = []
    }

    private let state = Mutex(State())
    private let verbose: Bool

    init(verbose: Bool) {
        self.verbose = verbose
    }

    /// Records the outcome of the record read from `label` (file:line).
    func record(_ label: String, _ result: DeliveryResult) {
        switch result {
        case .success(let metadata):
            state.withLock { $0.delivered += 1 }
            if verbose { print("\(label) -> \(metadata.topic)-\(metadata.partition)@\(metadata.offset)") }
        case .failure(let error):
            Terminal.printError("error: record \(label) failed: \(error)")
            state.withLock { $0.failures.append(Failure(record: label, error: error.description)) }
        }
    }

    var summary: Summary {
        state.withLock { Summary(delivered: $0.delivered, failed: $0.failures.count, failures: $0.failures) }
    }
}
