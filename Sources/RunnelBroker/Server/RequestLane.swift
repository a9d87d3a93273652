// RequestLane: one connection's asynchronous requests, run one after another in arrival order.
import NIOCore
import Synchronization

/// Runs a connection's asynchronous handler work in the order the requests arrived, each starting
/// once the previous one has finished — Kafka's guarantee that a broker works on one request per
/// connection at a time. Without it two pipelined OffsetCommits for one partition could reach the
/// group coordinator in either order and leave the older offset committed.
///
/// Only handlers that leave the event loop (the group coordinator's) use a lane; produce and fetch
/// keep their order through synchronous work on the event loop and per-partition queues.
public final class RequestLane: Sendable {
    private let tail = Mutex<Task<Void, Never>?>(nil)

    /// Creates an empty lane.
    public init() {}

    /// Queues `body` behind everything submitted before; the future completes on `loop` with its result.
    func submit<Result: Sendable>(on loop: any EventLoop,
                                  _ body: @escaping @Sendable () async -> Result) -> EventLoopFuture<Result> {
        let promise = loop.makePromise(of: Result.self)
        tail.withLock { tail in
            let previous = tail
            tail = Task {
                await previous?.value
                promise.succeed(await body())
            }
        }
        return promise.futureResult
    }
}
