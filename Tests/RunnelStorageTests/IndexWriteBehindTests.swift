// Offset index entries written behind (in groups) and complete on disk after a clean shutdown.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct IndexWriteBehindTests {
    @Test func indexEntriesAreWrittenBehindAndCompleteAfterACleanShutdown() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.indexIntervalBytes = 0  // an index entry for every batch after the first
        config.flushMessages = .max
        let index = dir.path + "/t-0/00000000000000000000.index"
        do {
            let manager = try TestManagers.make(dir.path, defaults: config)
            let log = try manager.createLog(topic: "t", partition: 0, topicId: nil)
            for _ in 0..<300 { _ = try log.appendAndWait(records: TestBatches.simple(count: 2), leaderEpoch: 0) }
            let written = try #require(try FileManager.default.attributesOfItem(atPath: index)[.size] as? Int)
            #expect(written == OffsetIndex.writeBehind * OffsetIndex.entrySize, "entries go to the file in groups")
            manager.shutdown()
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: index)[.size] as? Int)
        #expect(size == 299 * OffsetIndex.entrySize, "a clean shutdown writes the rest")
        let manager = try TestManagers.make(dir.path, defaults: config)
        defer { manager.shutdown() }
        let log = try #require(try manager.log(topic: "t", partition: 0))
        log.updateHighWatermark(log.logEndOffset)
        for offset in [Int64(0), 1, 257, 511, 599] {
            let first = TestBatches.headers(in: try log.read(from: offset, maxBytes: 1).readBytes()).first
            #expect(first?.baseOffset == offset - offset % 2)
        }
    }
}
