// AtomicFileWriter: two writes of one path in flight in the same engine round leave the newer bytes in
// place (the overtaken write is discarded without touching the newer one's temporary file), and no
// temporary file is left behind.
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct AtomicFileWriterTests {
    @Test(arguments: IOEngineKind.allCases.filter { $0 != .auto && ($0 != .ioUring || IOUringAvailability.runs) })
    func theNewerOfTwoWritesInOneRoundIsTheFileLeftInPlace(kind: IOEngineKind) throws {
        let directory = TemporaryDirectory()
        // Held: both writes go through the write stage as one round, then complete in order.
        let faults = IOFaultInjector()
        faults.hold()
        let engine = try IOEngine(kind: kind, name: directory.path, logger: Logger(label: "test"),
                                  syncfsMinFiles: 0, faults: faults)
        defer { engine.shutdown() }
        let failures = Mutex<[Int32]>([])
        let writer = AtomicFileWriter(engine: engine, directory: directory.path, logger: Logger(label: "test")) { code, _ in
            failures.withLock { $0.append(code) }
        }
        let path = directory.path + "/leader-epoch-checkpoint"
        let done = DispatchSemaphore(value: 0)
        let answers = Mutex<[Int32]>([])
        for text in ["older\n", "newer\n"] {
            writer.write(ByteBuffer(string: text), to: path) { code in
                answers.withLock { $0.append(code) }
                done.signal()
            }
        }
        faults.release()
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 30) == .success) }
        #expect(answers.withLock { $0 } == [0, 0])
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "newer\n")
        #expect(writer.pendingCount == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }
}
