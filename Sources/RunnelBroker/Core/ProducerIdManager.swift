// ProducerIdManager: hands out producer ids from blocks the metadata store reserves, fetching the next
// block before the current one runs out (Kafka's RPCProducerIdManager).
import Logging
import RunnelCluster
import RunnelTransactions
import Synchronization

/// Producer ids for InitProducerId. `nextProducerId` is synchronous (the transaction coordinator calls
/// it inside its actor); the next block is fetched in the background when the current one is 90% used.
/// Without any block left it throws, and the coordinator answers COORDINATOR_NOT_AVAILABLE, which
/// clients retry.
final class ProducerIdManager: ProducerIdSource {
    private struct Blocks {
        var current: ProducerIdBlock?
        var nextId: Int64 = 0
        var prefetched: ProducerIdBlock?
        var fetching = false
    }

    private let metadata: any MetadataStore
    private let logger: Logger
    private let blocks = Mutex(Blocks())

    init(metadata: any MetadataStore, logger: Logger) {
        self.metadata = metadata
        self.logger = logger
    }

    /// Reserves the first block (before the listeners open).
    func prime() async throws {
        let block = try await metadata.allocateProducerIdBlock()
        blocks.withLock { state in
            if state.current == nil {
                state.current = block
                state.nextId = block.firstProducerId
            } else {
                state.prefetched = block
            }
        }
    }

    func nextProducerId() throws -> Int64 {
        let (id, prefetch) = try blocks.withLock { state throws -> (Int64, Bool) in
            if let current = state.current, state.nextId >= current.end {
                state.current = state.prefetched
                state.prefetched = nil
                state.nextId = state.current?.firstProducerId ?? 0
            }
            guard let current = state.current else {
                let start = !state.fetching
                state.fetching = true
                if start { Task { await self.fetchNextBlock() } }
                throw ProducerIdsUnavailable()
            }
            let id = state.nextId
            state.nextId += 1
            let remaining = current.end - state.nextId
            let prefetch = remaining <= current.size / 10 && state.prefetched == nil && !state.fetching
            if prefetch { state.fetching = true }
            return (id, prefetch)
        }
        if prefetch { Task { await fetchNextBlock() } }
        return id
    }

    private func fetchNextBlock() async {
        do {
            let block = try await metadata.allocateProducerIdBlock()
            blocks.withLock { state in
                if state.current == nil {
                    state.current = block
                    state.nextId = block.firstProducerId
                } else {
                    state.prefetched = block
                }
                state.fetching = false
            }
        } catch {
            blocks.withLock { $0.fetching = false }
            logger.error("could not reserve a producer id block", metadata: ["error": "\(error)"])
        }
    }
}

/// No producer id block is available right now (the metadata store is unreachable).
struct ProducerIdsUnavailable: Error, CustomStringConvertible {
    var description: String { "no producer id block is available; the metadata store did not answer" }
}
