// CatchUpProgress: records left, rate and ETA from successive committed-offset samples.
import KafkaProtocol
import Testing
import RunnelClient

@Suite struct CatchUpProgressTests {
    let p0 = TopicPartition(topic: "events", partition: 0)
    let p1 = TopicPartition(topic: "events", partition: 1)

    @Test func leftRateAndEtaComeFromTheSamplesPerPartitionAndInTotal() {
        var progress = CatchUpProgress(endOffsets: [p0: 100, p1: 50])
        let start = ContinuousClock.now
        let first = progress.record([p0: 0, p1: 10], at: start)
        #expect(first.left == 140)
        #expect(first.rate == 0)
        #expect(first.etaSeconds == nil)
        #expect(!first.caughtUp)
        let second = progress.record([p0: 20, p1: 20], at: start + .seconds(2))
        #expect(second.partitions.map(\.left) == [80, 30])
        #expect(second.partitions.map(\.rate) == [10, 5])
        #expect(second.partitions.map(\.etaSeconds) == [8, 6])
        #expect(second.left == 110)
        #expect(second.rate == 15)
        let done = progress.record([p0: 100, p1: 50], at: start + .seconds(4))
        #expect(done.caughtUp)
        #expect(done.left == 0)
        #expect(done.etaSeconds == 0)
    }

    @Test func aPartitionWithoutACommittedOffsetIsNotCaughtUp() {
        var progress = CatchUpProgress(endOffsets: [p0: 0, p1: 5])
        let status = progress.record([p0: 0], at: .now)
        #expect(!status.caughtUp)
        #expect(status.partitions[1].committed == nil)
        #expect(status.partitions[1].left == 5)
    }

    @Test func ratesLookOnlyAsFarBackAsTheWindow() {
        var progress = CatchUpProgress(endOffsets: [p0: 1_000], window: .seconds(3))
        let start = ContinuousClock.now
        _ = progress.record([p0: 0], at: start)
        _ = progress.record([p0: 500], at: start + .seconds(1))   // a burst, then slow
        _ = progress.record([p0: 510], at: start + .seconds(4))
        let status = progress.record([p0: 520], at: start + .seconds(5))
        // The samples at 0 s and 1 s (the burst) fell out of the 3 s window: (520 - 510) / 1 s.
        #expect(status.rate == 10)
    }
}
