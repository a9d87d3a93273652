// Tests of the io_uring backend's sync round when many files are touched at once (only the first
// fdatasync is drained behind the writes; the others run in parallel after it): every request is
// answered, and every file holds its bytes, also when the round is split because the ring is small.
import Foundation
import NIOCore
import Testing
@testable import RunnelStorage

@Suite(.enabled(if: IOUringAvailability.runs, IOUringAvailability.missingReason))
struct IOUringParallelSyncTests {
    private func runRound(files: Int, writesPerFile: Int, ringEntries: UInt32) throws {
        let backend = try IOUringBackend(entries: ringEntries)
        defer { backend.close() }
        let directory = TemporaryDirectory()
        var handles: [LogFileHandle] = []
        for index in 0..<files {
            handles.append(try LogFileHandle.open(directory.path + "/file-\(index).log", create: true))
        }
        var requests: [IORequest] = []
        for round in 0..<writesPerFile {
            for (index, handle) in handles.enumerated() {
                let bytes = ByteBuffer(string: "f\(index)-w\(round);")
                let position = Int64(round * bytes.readableBytes)
                requests.append(IORequest(file: handle, position: position, chunks: [bytes], sync: true) { _ in })
            }
        }
        let results = backend.execute(requests)
        #expect(results.count == requests.count)
        #expect(results.allSatisfy { $0 == 0 })
        for index in 0..<files {
            let contents = try String(contentsOfFile: directory.path + "/file-\(index).log", encoding: .utf8)
            let expected = (0..<writesPerFile).map { "f\(index)-w\($0);" }.joined()
            #expect(contents == expected)
        }
    }

    @Test func aRoundSyncingFiftyFilesAnswersEveryRequestAndWritesEveryFile() throws {
        try runRound(files: 50, writesPerFile: 2, ringEntries: 256)
    }

    @Test func aRoundLargerThanTheRingIsSplitAndEverySplitStillSyncsAfterItsWrites() throws {
        try runRound(files: 20, writesPerFile: 3, ringEntries: 8)
    }
}
