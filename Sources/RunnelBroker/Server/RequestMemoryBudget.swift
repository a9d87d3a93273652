// RequestMemoryBudget: `queued.max.request.bytes`, one byte budget for the requests every connection
// has read and not yet answered, so many large produces cannot exhaust the broker's memory.
import Atomics

/// A broker-wide count of request bytes in flight against a limit. As Kafka's (non-strict) memory
/// pool: a connection may read while any budget is left, so one request may overshoot it; while the
/// budget is used up, connections stop reading and look again shortly.
public final class RequestMemoryBudget: Sendable {
    /// The limit in bytes; nil: unlimited (`-1`).
    public let limit: Int?
    private let used = ManagedAtomic<Int>(0)

    /// A budget of `limit` bytes (≤ 0: unlimited).
    public init(limit: Int64) { self.limit = limit > 0 ? Int(clamping: limit) : nil }

    /// Whether a connection may read another request now.
    var available: Bool {
        guard let limit else { return true }
        return used.load(ordering: .relaxed) < limit
    }

    /// Bytes now held by requests in flight.
    var inUse: Int { used.load(ordering: .relaxed) }

    /// Counts a request just read.
    func acquire(_ bytes: Int) {
        guard limit != nil else { return }
        used.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// Gives back a request's bytes once it is answered (or its connection closed).
    func release(_ bytes: Int) {
        guard limit != nil, bytes > 0 else { return }
        used.wrappingDecrement(by: bytes, ordering: .relaxed)
    }
}
