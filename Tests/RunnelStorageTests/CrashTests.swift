// Crash tests: a child process (storage-crash-helper, built by Package.swift) appends with durable
// acknowledgement and is SIGKILLed mid-append, again and again; every acknowledged offset must survive,
// and the recovered log must hold only whole, valid, contiguous batches.
import Foundation
import KafkaRecords
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct CrashTests {
    static var helperPath: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test binary is `<build>/RunnelPackageTests.xctest`; on Darwin it sits inside a bundle.
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("storage-crash-helper").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("storage-crash-helper").path
    }

    /// Runs the helper until it acknowledged at least `acks` appends, kills it with SIGKILL, and returns the
    /// highest acknowledged offset.
    static func runAndKill(dir: String, engine: IOEngineKind, acks: Int, ioMode: LogIOMode = TestManagers.ioMode) throws -> Int64 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: helperPath)
        process.arguments = [dir, engine.rawValue, "3", ioMode.rawValue]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        var acknowledged: [Int64] = []
        let deadline = Date().addingTimeInterval(30)
        while acknowledged.count < acks && Date() < deadline && process.isRunning {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            acknowledged = text.split(separator: "\n").compactMap { line in
                line.hasPrefix("ack ") ? Int64(line.dropFirst(4)) : nil
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // Acks printed before the kill but not yet read still count.
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        acknowledged = text.split(separator: "\n").compactMap { $0.hasPrefix("ack ") ? Int64($0.dropFirst(4)) : nil }
        return acknowledged.max() ?? -1
    }

    @Test(arguments: TestManagers.engines, [LogIOMode.buffered, .direct])
    func killedMidAppendTheLogRecoversEveryAcknowledgedBatchAndNothingTorn(engine: IOEngineKind, ioMode: LogIOMode) throws {
        #expect(FileManager.default.fileExists(atPath: Self.helperPath), "build storage-crash-helper first (swift build --build-tests)")
        let dir = TemporaryDirectory()
        var highestAcknowledged: Int64 = -1
        for round in 0..<5 {
            let acked = try Self.runAndKill(dir: dir.path, engine: engine, acks: 30 + round * 7, ioMode: ioMode)
            #expect(acked > highestAcknowledged, "round \(round) made progress")
            highestAcknowledged = max(highestAcknowledged, acked)
            let manager = try TestManagers.make(dir.path, engine: engine, ioMode: ioMode)
            let log = try #require(try manager.log(topic: "crash", partition: 0))
            #expect(log.logEndOffset > highestAcknowledged, "round \(round): acknowledged offset \(highestAcknowledged) lost")
            log.updateHighWatermark(log.logEndOffset)
            var offset: Int64 = 0
            while offset < log.logEndOffset {
                let bytes = try log.read(from: offset, maxBytes: 1 << 20).readBytes()
                let headers = TestBatches.headers(in: bytes)
                #expect(TestBatches.crcsValid(bytes))
                guard let last = headers.last, headers.first?.baseOffset == offset else {
                    Issue.record("no batch at offset \(offset)")
                    break
                }
                for (previous, next) in zip(headers, headers.dropFirst()) {
                    #expect(next.baseOffset == previous.lastOffset + 1)
                }
                offset = last.lastOffset + 1
            }
            #expect(offset == log.logEndOffset)
            manager.abandonForTesting()
        }
    }
}
