// ReplicationThrottle: the token bucket behind leader/follower.replication.throttled.rate.
import Testing
@testable import RunnelBroker

@Suite struct ReplicationThrottleTests {
    @Test("a full second of the rate at first; traffic is charged after the fact (debt), refilled at the rate, capped at one second")
    func bucket() {
        let throttle = ReplicationThrottle(rate: 1000)
        let start = ContinuousClock.now
        #expect(throttle.isLimited)
        #expect(throttle.available(now: start) == 1000)
        throttle.record(1500, now: start)
        #expect(throttle.available(now: start) == -500)
        let delay = throttle.delayUntilAvailable(now: start)
        #expect(delay > .milliseconds(500) && delay <= .milliseconds(502))
        #expect(throttle.available(now: start + .seconds(1)) == 500)
        #expect(throttle.available(now: start + .seconds(10)) == 1000)
        #expect(throttle.delayUntilAvailable(now: start + .seconds(10)) == .zero)
    }

    @Test("Kafka's default (Long.MAX_VALUE) does not throttle")
    func unlimited() {
        let throttle = ReplicationThrottle(rate: .max)
        #expect(!throttle.isLimited)
        throttle.record(1 << 40)
        #expect(throttle.available() == .max && throttle.delayUntilAvailable() == .zero)
    }
}
