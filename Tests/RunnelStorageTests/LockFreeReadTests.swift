// Reads that scan outside the partition lock still name the batch holding the offset while appends and
// truncations race them.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct LockFreeReadTests {
    @Test(arguments: TestManagers.engines)
    func readsScanningOutsideTheLockReturnTheBatchHoldingTheOffsetWhileAppendsAndTruncationsRace(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.flushMessages = .max
        config.indexIntervalBytes = 256
        let manager = try TestManagers.make(dir.path, engine: engine, defaults: config)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "r", partition: 0, topicId: nil)
        for _ in 0..<100 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
        log.updateHighWatermark(log.logEndOffset)
        let stop = Atomic<Bool>(false)
        let generation = Atomic<Int>(0)  // odd while a truncation runs
        let problems = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        let readers = DispatchGroup()
        for seed in 0..<2 {
            readers.enter()
            Thread {
                var random = UInt64(seed + 1)
                while !stop.load(ordering: .relaxed) {
                    random = random &* 6364136223846793005 &+ 1442695040888963407
                    let end = max(log.highWatermark, 1)
                    let offset = Int64((random >> 33) % UInt64(end))
                    // A slice read after a truncation may show the re-appended bytes: such reads are skipped.
                    let before = generation.load(ordering: .acquiring)
                    guard before % 2 == 0, let result = try? log.read(from: offset, maxBytes: 2_000),
                          let first = result.firstBatchOffset, let bytes = try? result.readBytes(),
                          generation.load(ordering: .acquiring) == before,
                          let header = RecordBatchHeader(from: bytes, at: bytes.readerIndex) else { continue }
                    reads.add(1, ordering: .relaxed)
                    if header.baseOffset != first || header.lastOffset < offset || first > offset {
                        problems.withLock { $0.append("offset \(offset): batch \(header.baseOffset)...\(header.lastOffset), named \(first)") }
                    }
                }
                readers.leave()
            }.start()
        }
        // Truncate and re-append with a different batch size, so stale positions would name wrong batches.
        for round in 0..<6 {
            generation.add(1, ordering: .releasing)
            try log.truncate(to: 50 + Int64(round) * 7)
            generation.add(1, ordering: .releasing)
            for _ in 0..<60 {
                _ = try log.appendAndWait(records: TestBatches.simple(count: round % 2 == 0 ? 3 : 2), leaderEpoch: 0)
            }
            log.updateHighWatermark(log.logEndOffset)
        }
        stop.store(true, ordering: .relaxed)
        #expect(readers.wait(timeout: .now() + 30) == .success)
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(problems.withLock { $0 } == [])
    }
}
