// IOThrottle (log.cleaner.io.max.bytes.per.second): the cleaner's bytes stay under the rate on
// average, in small steps (no pause much longer than the 10 ms check interval); a limit of 0 means unlimited.
import Foundation
import Testing
@testable import RunnelStorage

@Suite struct IOThrottleTests {
    @Test("3 MiB charged at 10 MiB/s take at least about 0.3 s (the rate is an upper bound)")
    func limited() {
        let throttle = IOThrottle(bytesPerSecond: 10 * 1_048_576)
        #expect(throttle.isLimited)
        let start = ContinuousClock.now
        for _ in 0..<48 { throttle.charge(64 << 10) }  // 3 MiB in 64 KiB reads
        let elapsed = ContinuousClock.now - start
        // 3 MiB at 10 MiB/s is 0.3 s: one window's worth, paused for when it is full.
        #expect(elapsed >= .milliseconds(250), "\(elapsed)")
    }

    @Test("the rate is kept in small steps: 256 KiB reads at 50 MiB/s pause at most 10 ms at a time, never for a burst's worth")
    func smooth() {
        // On a clock of its own (a loaded machine's scheduling is not what is tested): each read takes
        // 1 ms, each pause exactly what the throttle asks for.
        let throttle = IOThrottle(bytesPerSecond: 50 * 1_048_576)
        var now = ContinuousClock.now
        let start = now
        var longest: Duration = .zero
        var pauses = 0
        for _ in 0..<40 {  // 10 MiB: 0.2 s at 50 MiB/s
            now += .milliseconds(1)
            if let pause = throttle.pause(charging: 256 << 10, at: now) {
                longest = max(longest, pause)
                pauses += 1
                now += pause
            }
        }
        let elapsed = now - start
        #expect(elapsed >= .milliseconds(180), "\(elapsed)")
        #expect(pauses >= 15, "\(pauses) pauses")
        // Kafka's 300 ms windows would let 15 MiB through at once here, then pause ~0.3 s.
        #expect(longest <= .milliseconds(10), "longest pause \(longest)")
    }

    @Test("unlimited for 0 and for the largest double: charging never sleeps")
    func unlimited() {
        for throttle in [IOThrottle(bytesPerSecond: .greatestFiniteMagnitude), IOThrottle(bytesPerSecond: 0)] {
            #expect(!throttle.isLimited)
            let start = ContinuousClock.now
            for _ in 0..<1000 { throttle.charge(1 << 20) }
            #expect(ContinuousClock.now - start < .seconds(1))
        }
    }
}
