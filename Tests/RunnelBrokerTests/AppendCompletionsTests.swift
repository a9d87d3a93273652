// A follower's fetch loop waits, bounded, for its appends to be durable before a fetch that may park at
// the leader (decision 0028): woken by completions, re-checking its condition, never stuck on a lost one.
import Synchronization
import Testing
@testable import RunnelBroker

// Wall-clock upper bounds here are generous: the waits resume on the cooperative pool, which other
// tests of the process may hold with blocking disk I/O (one such bound of 10 s failed at 15 s while a
// large write was being flushed beside the suite). What each test asserts exactly is how often the
// condition is checked: a loop that spins, or that waits out its bound, shows there.
@Suite struct AppendCompletionsTests {
    @Test func aConditionThatHoldsReturnsAtOnce() async {
        let completions = AppendCompletions()
        let checks = Mutex(0)
        let start = ContinuousClock.now
        #expect(await completions.wait(until: { checks.withLock { $0 += 1 }; return true }, atMost: .seconds(120)))
        #expect(checks.withLock { $0 } == 1, "checked once, no waiting")
        #expect(ContinuousClock.now - start < .seconds(60))
    }

    @Test func aCompletionThatMakesTheConditionTrueWakesTheWaiter() async {
        let completions = AppendCompletions()
        let durable = Mutex(false)
        let checks = Mutex(0)
        async let waited = completions.wait(until: { checks.withLock { $0 += 1 }; return durable.withLock { $0 } },
                                            atMost: .seconds(120))
        // Completions that change nothing wake it to re-check, and it keeps waiting.
        for _ in 0..<3 {
            try? await Task.sleep(for: .milliseconds(20))
            completions.notify()
        }
        durable.withLock { $0 = true }
        completions.notify()
        let start = ContinuousClock.now
        #expect(await waited)
        #expect(ContinuousClock.now - start < .seconds(60), "woken by the completion, not by the 120 s bound")
        // Two checks per wait (the top of the loop, the re-check at registration) and one at the end: at
        // most 2 + 3 × 2 + 1 for four notifies (fewer if the waiter starts late), never a spin.
        #expect((1...9).contains(checks.withLock { $0 }), "\(checks.withLock { $0 }) checks")
    }

    @Test func aCompletionThatNeverComesCostsTheBoundNotTheLoop() async {
        let completions = AppendCompletions()
        let checks = Mutex(0)
        let start = ContinuousClock.now
        #expect(await completions.wait(until: { checks.withLock { $0 += 1 }; return false }, atMost: .milliseconds(200)) == false)
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(200) && took < .seconds(60))
        // The top of the loop, the re-check at registration, the top again after the timer: no spinning.
        #expect(checks.withLock { $0 } == 3, "\(checks.withLock { $0 }) checks")
    }
}
