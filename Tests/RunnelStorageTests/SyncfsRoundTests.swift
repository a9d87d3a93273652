// Tests of the engine's syncfs rounds: when a group commit must sync at least `syncfsMinFiles` files,
// one syncfs of the log dir's file system answers every request of the round; below the threshold,
// or with the threshold 0, each file gets its own fdatasync. Either way every request is answered
// once, in order, and every file holds its bytes.
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct SyncfsRoundTests {
    /// Submits `writesPerFile` synced writes to each of `files` files; returns the syncfs rounds used.
    private func run(kind: IOEngineKind, files: Int, writesPerFile: Int, syncfsMinFiles: Int) throws -> Int {
        let directory = TemporaryDirectory()
        // Held: the write stage takes every request below as one round once released.
        let faults = IOFaultInjector()
        faults.hold()
        let engine = try IOEngine(kind: kind, name: directory.path, logger: Logger(label: "test"),
                                  syncfsMinFiles: syncfsMinFiles, faults: faults)
        var handles: [LogFileHandle] = []
        for index in 0..<files {
            handles.append(try LogFileHandle.open(directory.path + "/file-\(index).log", create: true))
        }
        let answers = Mutex<[Int: Int32]>([:])
        let order = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        var submitted = 0
        for round in 0..<writesPerFile {
            for (index, handle) in handles.enumerated() {
                let bytes = ByteBuffer(string: "f\(index)-w\(round);")
                let id = submitted
                submitted += 1
                let accepted = engine.submit(IORequest(file: handle, position: Int64(round * bytes.readableBytes),
                                                       chunks: [bytes], sync: true) { code in
                    answers.withLock { $0[id] = code }
                    order.withLock { $0.append(id) }
                    done.signal()
                })
                #expect(accepted)
            }
        }
        faults.release()
        for _ in 0..<submitted {
            #expect(done.wait(timeout: .now() + 30) == .success)
        }
        engine.shutdown()
        #expect(answers.withLock { $0.count } == submitted)
        #expect(answers.withLock { $0.values.allSatisfy { $0 == 0 } })
        #expect(order.withLock { $0 } == Array(0..<submitted))
        for index in 0..<files {
            let contents = try String(contentsOfFile: directory.path + "/file-\(index).log", encoding: .utf8)
            #expect(contents == (0..<writesPerFile).map { "f\(index)-w\($0);" }.joined())
        }
        return engine.syncfsRounds.load(ordering: .relaxed)
    }

    @Test(arguments: [IOEngineKind.posix, .auto])
    func aRoundSyncingManyFilesUsesOneSyncfs(kind: IOEngineKind) throws {
        #expect(try run(kind: kind, files: 40, writesPerFile: 3, syncfsMinFiles: 2) == 1)
    }

    @Test(arguments: [IOEngineKind.posix, .auto])
    func belowTheThresholdOrDisabledEachFileIsSyncedOnItsOwn(kind: IOEngineKind) throws {
        #expect(try run(kind: kind, files: 3, writesPerFile: 2, syncfsMinFiles: 100) == 0)
        #expect(try run(kind: kind, files: 40, writesPerFile: 2, syncfsMinFiles: 0) == 0)
    }
}
