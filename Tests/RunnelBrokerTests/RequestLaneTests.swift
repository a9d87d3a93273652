// RequestLane: a connection's off-loop requests run one at a time, in arrival order.
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import RunnelBroker

@Suite struct RequestLaneTests {
    @Test func aLaterRequestStartsOnlyAfterTheEarlierOneFinished() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let lane = RequestLane()
        let events = Mutex<[String]>([])
        let (gate, open) = AsyncStream<Void>.makeStream()
        let first = lane.submit(on: loop) {
            events.withLock { $0.append("1 start") }
            for await _ in gate { break }
            events.withLock { $0.append("1 end") }
            return 1
        }
        let rest = (2...20).map { index in
            lane.submit(on: loop) {
                events.withLock { $0.append("\(index)") }
                return index
            }
        }
        // Give the later submissions every chance to overtake the blocked first one.
        for _ in 0..<50 { await Task.yield() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(events.withLock { $0 } == ["1 start"])
        open.yield()
        #expect(try await first.get() == 1)
        var answers: [Int] = []
        for future in rest { answers.append(try await future.get()) }
        #expect(answers == Array(2...20))
        #expect(events.withLock { $0 } == ["1 start", "1 end"] + (2...20).map { "\($0)" })
    }
}
