// Property test: random appends, reads, high watermark moves, truncations, DeleteRecords and restarts
// (clean and crash) against an in-memory model of the log, for several seeds and both engines.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

/// SplitMix64: deterministic and seedable.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What the log should contain: batches as (base offset, last offset, max timestamp).
struct LogModel {
    var batches: [(base: Int64, last: Int64, maxTimestamp: Int64)] = []
    var logStartOffset: Int64 = 0
    var logEndOffset: Int64 { batches.last.map { $0.last + 1 } ?? logStartOffset }

    func batch(containing offset: Int64) -> (base: Int64, last: Int64, maxTimestamp: Int64)? {
        batches.first { $0.last >= offset && $0.last >= logStartOffset }
    }
}

@Suite struct ModelPropertyTests {
    @Test(arguments: [1, 2, 3, 4], TestManagers.engines)
    func randomOperationsAgreeWithTheModel(seed: Int, engine: IOEngineKind) throws {
        var random = SeededGenerator(state: UInt64(seed))
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentBytes = 1_500
        config.indexIntervalBytes = 200
        config.retentionMs = -1
        var manager = try TestManagers.make(dir.path, engine: engine, defaults: config)
        var log = try manager.createLog(topic: "p", partition: 0, topicId: nil)
        var model = LogModel()
        var timestamp: Int64 = 10_000
        for step in 0..<250 {
            let choice = Int.random(in: 0..<100, using: &random)
            switch choice {
            case 0..<55:
                let count = Int.random(in: 1...6, using: &random)
                timestamp += Int64.random(in: 0...50, using: &random)
                let result = try log.appendAndWait(records: TestBatches.simple(count: count, timestamp: timestamp,
                                                                               valueSize: Int.random(in: 1...120, using: &random)),
                                                   leaderEpoch: 0)
                #expect(result.baseOffset == model.logEndOffset, "step \(step)")
                model.batches.append((result.baseOffset, result.lastOffset, timestamp + Int64(count - 1)))
            case 55..<75:
                log.updateHighWatermark(model.logEndOffset)
                guard model.logEndOffset > model.logStartOffset else { break }
                let target = Int64.random(in: model.logStartOffset..<model.logEndOffset, using: &random)
                let headers = TestBatches.headers(in: try log.read(from: target, maxBytes: 2_000).readBytes())
                let expected = try #require(model.batch(containing: target))
                #expect(headers.first?.baseOffset == expected.base, "step \(step) read \(target)")
                let probe = model.batches.filter { $0.last >= model.logStartOffset }.randomElement(using: &random)
                if let probe {
                    let found = try log.offset(for: .timestamp(probe.maxTimestamp))
                    #expect(found != nil && found!.timestamp >= probe.maxTimestamp, "step \(step) timestamp")
                    #expect(found.map { $0.offset <= probe.last } == true, "step \(step) timestamp offset")
                }
            case 75..<82:
                guard let victim = model.batches.last(where: { $0.base > model.logStartOffset }), model.batches.count > 2 else { break }
                try log.truncate(to: victim.base)
                model.batches.removeAll { $0.base >= victim.base }
            case 82..<87:
                log.updateHighWatermark(model.logEndOffset)
                guard model.logEndOffset > model.logStartOffset else { break }
                let target = Int64.random(in: model.logStartOffset...model.logEndOffset, using: &random)
                try log.deleteRecords(before: target)
                model.logStartOffset = max(model.logStartOffset, target)
                #expect(log.logStartOffset == model.logStartOffset)
            default:
                let crash = Bool.random(using: &random)
                log.updateHighWatermark(model.logEndOffset)
                if crash { manager.abandonForTesting() } else { manager.shutdown() }
                manager = try TestManagers.make(dir.path, engine: engine, defaults: config)
                log = try #require(try manager.log(topic: "p", partition: 0))
                // After a crash the log start offset may fall back to the last checkpoint; the model follows.
                if crash { model.logStartOffset = log.logStartOffset }
            }
            #expect(log.logEndOffset == model.logEndOffset, "step \(step)")
            #expect(log.logStartOffset == model.logStartOffset, "step \(step)")
        }
        manager.shutdown()
    }
}
