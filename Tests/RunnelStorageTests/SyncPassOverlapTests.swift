// The sync stage's workers (decision 0024): while one pass waits for its fsyncs, a request written
// meanwhile is synced by another worker at once, and completions still come in submission order.
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct SyncPassOverlapTests {
    @Test(arguments: [IOEngineKind.posix, .auto])
    func aSecondPassSyncsWhileTheFirstWaitsAndCompletesAfterIt(kind: IOEngineKind) throws {
        let directory = TemporaryDirectory()
        let faults = IOFaultInjector()
        let engine = try IOEngine(kind: kind, name: directory.path, logger: Logger(label: "test"), faults: faults,
                                  syncWorkers: 2)
        defer { engine.shutdown() }
        let first = try LogFileHandle.open(directory.path + "/first.log", create: true)
        let second = try LogFileHandle.open(directory.path + "/second.log", create: true)
        let order = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        func submit(_ name: String, to file: LogFileHandle) {
            #expect(engine.submit(IORequest(file: file, position: 0, chunks: [ByteBuffer(string: name)], sync: true) { code in
                order.withLock { $0.append("\(name):\(code)") }
                done.signal()
            }))
        }
        func poll(_ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(10)
            while !condition() {
                if Date() > deadline { return false }
                usleep(1_000)
            }
            return true
        }

        faults.holdNextSyncPass()
        submit("a", to: first)
        #expect(poll { faults.isHoldingASyncPass })  // pass 0 (request a) waits before its fsync
        submit("b", to: second)
        // Pass 1 (request b) is synced by the other worker while pass 0 is held: one worker could not.
        #expect(poll { engine.syncedPasses.load(ordering: .relaxed) == 1 })
        // ... but b is not answered before a.
        #expect(order.withLock { $0 }.isEmpty)
        faults.releaseHeldSyncPass()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(order.withLock { $0 } == ["a:0", "b:0"])
        #expect(engine.syncedPasses.load(ordering: .relaxed) == 2)
    }

    @Test func oneWorkerKeepsPassesInSequence() throws {
        let directory = TemporaryDirectory()
        let faults = IOFaultInjector()
        let engine = try IOEngine(kind: .posix, name: directory.path, logger: Logger(label: "test"), faults: faults,
                                  syncWorkers: 1)
        defer { engine.shutdown() }
        let file = try LogFileHandle.open(directory.path + "/only.log", create: true)
        let done = DispatchSemaphore(value: 0)
        faults.holdNextSyncPass()
        #expect(engine.submit(IORequest(file: file, position: 0, chunks: [ByteBuffer(string: "a")], sync: true) { _ in done.signal() }))
        let deadline = Date().addingTimeInterval(10)
        while !faults.isHoldingASyncPass && Date() < deadline { usleep(1_000) }
        #expect(faults.isHoldingASyncPass)
        #expect(engine.submit(IORequest(file: file, position: 1, chunks: [ByteBuffer(string: "b")], sync: true) { _ in done.signal() }))
        // With the only worker held, nothing else is synced.
        #expect(engine.syncedPasses.load(ordering: .relaxed) == 0)
        faults.releaseHeldSyncPass()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(try String(contentsOfFile: directory.path + "/only.log", encoding: .utf8) == "ab")
    }
}
