// CleanerThrottle (log.cleaner.io.max.bytes.per.second): the cleaner's bytes stay under the rate on
// average; unlimited by default (as Kafka), and a limit of 0 means unlimited too.
import Foundation
import Testing
@testable import RunnelStorage

@Suite struct CleanerThrottleTests {
    @Test("3 MiB charged at 10 MiB/s take at least about 0.3 s (the rate is an upper bound)")
    func limited() {
        let throttle = CleanerThrottle(bytesPerSecond: 10 * 1_048_576)
        #expect(throttle.isLimited)
        let start = ContinuousClock.now
        for _ in 0..<48 { throttle.charge(64 << 10) }  // 3 MiB in 64 KiB reads
        let elapsed = ContinuousClock.now - start
        // 3 MiB at 10 MiB/s is 0.3 s: one window's worth, paused for when it is full.
        #expect(elapsed >= .milliseconds(250), "\(elapsed)")
    }

    @Test("unlimited by default and for 0: charging never sleeps")
    func unlimited() {
        for throttle in [CleanerThrottle(), CleanerThrottle(bytesPerSecond: 0)] {
            #expect(!throttle.isLimited)
            let start = ContinuousClock.now
            for _ in 0..<1000 { throttle.charge(1 << 20) }
            #expect(ContinuousClock.now - start < .seconds(1))
        }
    }
}
