// `log.io.direct.sync = dsync`: the direct path's writes carry RWF_DSYNC and are acknowledged without the
// sync stage's fdatasync; every acknowledged batch survives a crash (no clean close), on both engines and
// with several partitions' writes in flight together on the ring.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct DirectDsyncTests {
    static func make(_ dir: String, engine: IOEngineKind) throws -> LogManager {
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir], ioEngine: engine, ioMode: .direct)
        configuration.directSync = .dsync
        return try LogManager(configuration: configuration)
    }

    @Test(arguments: TestManagers.engines)
    func acknowledgedAppendsSurviveACrash(engine: IOEngineKind) throws {
        let dir = TemporaryDirectory()
        let manager = try Self.make(dir.path, engine: engine)
        let logs = try (0..<3).map { try manager.createLog(topic: "t", partition: Int32($0), topicId: nil) }
        for round in 0..<20 {
            // All partitions' appends queued before waiting: one engine round writes several files.
            let done = DispatchGroup()
            let failures = Mutex(0)
            for log in logs {
                done.enter()
                log.append(records: TestBatches.simple(count: 5 + round % 3), leaderEpoch: 0) { result in
                    if case .failure = result { failures.withLock { $0 += 1 } }
                    done.leave()
                }
            }
            done.wait()
            #expect(failures.withLock { $0 } == 0)
        }
        let expected = logs.map(\.logEndOffset)
        #expect(expected.allSatisfy { $0 > 100 })
        manager.abandonForTesting()   // a crash: no clean truncation of the padded tails

        let reopened = try Self.make(dir.path, engine: engine)
        defer { reopened.shutdown() }
        for (partition, end) in expected.enumerated() {
            let log = try #require(try reopened.log(topic: "t", partition: Int32(partition)))
            #expect(log.logEndOffset == end)
            let bytes = ByteBuffer(bytes: try DirectIOTests.readAll(log))
            #expect(TestBatches.crcsValid(bytes))
            #expect(TestBatches.headers(in: bytes).last?.lastOffset == end - 1)
        }
    }
}
