// MetadataUpdateBroadcaster: hands each update to every subscriber's stream, in the order published.
import Synchronization

/// Fans updates out to `AsyncStream`s. Publishing is serialized by the caller (the store publishes
/// from one place, in revision order); each stream buffers without bound — metadata changes are rare.
final class MetadataUpdateBroadcaster: Sendable {
    private struct Subscribers {
        var next = 0
        var continuations: [Int: AsyncStream<MetadataUpdate>.Continuation] = [:]
        var finished = false
    }
    private let subscribers = Mutex(Subscribers())

    /// A new stream of the updates published from now on.
    func subscribe() -> AsyncStream<MetadataUpdate> {
        let (stream, continuation) = AsyncStream<MetadataUpdate>.makeStream()
        let id = subscribers.withLock { state -> Int? in
            guard !state.finished else { return nil }
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Delivers `update` to every subscriber.
    func publish(_ update: MetadataUpdate) {
        let targets = subscribers.withLock { Array($0.continuations.values) }
        for continuation in targets { continuation.yield(update) }
    }

    /// Ends every stream; later subscribers get an ended stream.
    func finish() {
        let targets = subscribers.withLock { state -> [AsyncStream<MetadataUpdate>.Continuation] in
            state.finished = true
            defer { state.continuations.removeAll() }
            return Array(state.continuations.values)
        }
        for continuation in targets { continuation.finish() }
    }
}
