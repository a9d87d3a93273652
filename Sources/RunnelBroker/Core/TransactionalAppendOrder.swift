// TransactionalAppendOrder: keeps a producer's transactional batches to one partition in the order they
// arrived while the first of them waits for the transaction coordinator.
import NIOConcurrencyHelpers
import NIOCore

/// A transactional batch that would open a transaction waits for the coordinator (a verification on
/// another broker, or transactions v2's implicit add), while the producer may already have sent its
/// next batches to the same partition (up to max.in.flight requests). Kafka reads one request per
/// connection at a time, so it never sees them overtake; Runnel serves pipelined requests concurrently,
/// so the batches of one producer and partition that arrive while one of them waits queue behind it and
/// are appended in arrival order.
final class TransactionalAppendOrder: Sendable {
    struct Key: Hashable, Sendable {
        var topic: String
        var partition: Int32
        var producerId: Int64
    }

    enum Turn {
        /// Nothing waits: append now (no coordinator round needed).
        case now
        /// Wait for `previous` (if any), ask the coordinator, append, then call `done`.
        case queued(previous: EventLoopFuture<Void>?, done: EventLoopPromise<Void>)
    }

    private let waiting = NIOLockedValueBox<[Key: EventLoopFuture<Void>]>([:])

    /// This batch's turn: `.now` when no earlier batch of `key` is waiting and it needs no coordinator
    /// round itself; otherwise queued behind the last waiting one.
    func turn(_ key: Key, needsCoordinator: Bool, on loop: any EventLoop) -> Turn {
        waiting.withLockedValue { waiting in
            let previous = waiting[key]
            guard previous != nil || needsCoordinator else { return .now }
            let done = loop.makePromise(of: Void.self)
            waiting[key] = done.futureResult
            return .queued(previous: previous, done: done)
        }
    }

    /// The batch holding `done` was appended (or answered with an error): the next may go.
    func finish(_ key: Key, _ done: EventLoopPromise<Void>) {
        waiting.withLockedValue { waiting in
            if waiting[key] === done.futureResult { waiting[key] = nil }
        }
        done.succeed(())
    }
}
