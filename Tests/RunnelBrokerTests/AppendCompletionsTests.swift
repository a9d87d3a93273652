// A follower's fetch loop waits, bounded, for its appends to be durable before a fetch that may park at
// the leader (decision 0028): woken by completions, re-checking its condition, never stuck on a lost one.
import Synchronization
import Testing
@testable import RunnelBroker

@Suite struct AppendCompletionsTests {
    @Test func aConditionThatHoldsReturnsAtOnce() async {
        let completions = AppendCompletions()
        let start = ContinuousClock.now
        #expect(await completions.wait(until: { true }, atMost: .seconds(5)))
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func aCompletionThatMakesTheConditionTrueWakesTheWaiter() async {
        let completions = AppendCompletions()
        let durable = Mutex(false)
        async let waited = completions.wait(until: { durable.withLock { $0 } }, atMost: .seconds(30))
        // Completions that change nothing wake it to re-check, and it keeps waiting.
        for _ in 0..<3 {
            try? await Task.sleep(for: .milliseconds(20))
            completions.notify()
        }
        durable.withLock { $0 = true }
        completions.notify()
        let start = ContinuousClock.now
        #expect(await waited)
        #expect(ContinuousClock.now - start < .seconds(10), "woken by the completion, not by the 30 s bound")
    }

    @Test func aCompletionThatNeverComesCostsTheBoundNotTheLoop() async {
        let completions = AppendCompletions()
        let start = ContinuousClock.now
        #expect(await completions.wait(until: { false }, atMost: .milliseconds(200)) == false)
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(200) && took < .seconds(10))
    }
}
