// ProduceResponseCollector: gathers one produce request's partition answers (which complete on storage
// threads, in any order) into the response, and completes the request's single promise with the last.
import KafkaProtocol
import NIOCore
import Synchronization

/// Collects a produce response's partition answers. Each `set` fills one pre-built slot; the call that
/// fills the last one succeeds the promise. Thread-safe: answers arrive from the I/O engine threads.
final class ProduceResponseCollector: Sendable {
    private struct State {
        var response: ProduceResponse
        var pending: Int
    }

    private let state: Mutex<State>
    private let promise: EventLoopPromise<ProduceResponse>

    /// `response` holds one slot per partition of the request, in request order; `pending` is their count.
    init(response: ProduceResponse, pending: Int, promise: EventLoopPromise<ProduceResponse>) {
        self.state = Mutex(State(response: response, pending: pending))
        self.promise = promise
        if pending == 0 { promise.succeed(response) }
    }

    /// The request's answer, complete once every partition was answered.
    var future: EventLoopFuture<ProduceResponse> { promise.futureResult }

    /// Records the answer for partition slot `partition` of topic slot `topic`.
    func set(_ topic: Int, _ partition: Int, _ answer: ProduceResponse.PartitionProduceResponse) {
        let done: ProduceResponse? = state.withLock { state in
            guard topic < state.response.responses.count,
                  partition < state.response.responses[topic].partitionResponses.count else { return nil }
            state.response.responses[topic].partitionResponses[partition] = answer
            state.pending -= 1
            return state.pending == 0 ? state.response : nil
        }
        if let done { promise.succeed(done) }
    }
}
