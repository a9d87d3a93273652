// FileReclaimer: a removed file's name is gone at once; a large file's blocks go back in paced
// chunks (its preallocated blocks past the end included), a small one is unlinked outright, and files
// queued meanwhile are freed in turn.
import Foundation
import Glibc
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct FileReclaimerTests {
    private static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reclaim-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private static func write(_ path: String, bytes: Int, preallocate: Int = 0) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let block = [UInt8](repeating: 7, count: 1 << 20)
        var written = 0
        while written < bytes {
            let n = block.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, min(block.count, bytes - written)) }
            #expect(n > 0)
            written += n
        }
        _ = fsync(fd)
        if preallocate > bytes {
            let handle = try LogFileHandle.open(path, create: false)
            #expect(DirectIO.preallocate(handle, bytes: preallocate))
        }
    }

    /// Polls until `condition` holds (at most 10 s).
    private static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    @Test("a large file loses its name at once and its blocks one chunk per step, preallocation included")
    func largeFileInChunks() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/00000000000000000000.log.deleted"
        try Self.write(path, bytes: 5 << 20, preallocate: 8 << 20)
        let steps = Mutex<[Int64]>([])
        let reclaimer = FileReclaimer(pacing: .init(chunkBytes: 2 << 20, intervalMs: 1), onStep: { _, size in
            steps.withLock { $0.append(size) }
        })
        reclaimer.remove(path)
        #expect(!FileSystem.exists(path))
        #expect(try await Self.eventually { reclaimer.pendingBytes == 0 })
        // 8 MiB allocated (5 written + 3 preallocated past the end), freed 2 MiB at a time: the first step
        // starts from the allocation, not from the 5 MiB size (the file system may count a block more).
        let sizes = steps.withLock { $0 }
        #expect(sizes.count == 4 && sizes.last == 0 && (sizes.first ?? 0) >= 6 << 20, "\(sizes)")
        #expect(zip(sizes, sizes.dropFirst().dropLast()).allSatisfy { $0 - $1 == 2 << 20 }, "\(sizes)")
    }

    @Test("a file no larger than one chunk, or any file with chunks off, is unlinked outright")
    func smallFileAtOnce() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let steps = Mutex(0)
        let reclaimer = FileReclaimer(pacing: .init(chunkBytes: 4 << 20, intervalMs: 1), onStep: { _, _ in
            steps.withLock { $0 += 1 }
        })
        try Self.write(dir + "/small", bytes: 1 << 20)
        reclaimer.remove(dir + "/small")
        reclaimer.configure(.init(chunkBytes: 0))
        try Self.write(dir + "/large", bytes: 6 << 20)
        reclaimer.remove(dir + "/large")
        reclaimer.remove(dir + "/missing")
        #expect(!FileSystem.exists(dir + "/small") && !FileSystem.exists(dir + "/large"))
        #expect(reclaimer.pendingBytes == 0 && steps.withLock { $0 } == 0)
    }

    @Test("files queued while one is being freed are freed after it, each in chunks")
    func queuedFiles() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let order = Mutex<[String]>([])
        let reclaimer = FileReclaimer(pacing: .init(chunkBytes: 1 << 20, intervalMs: 2), onStep: { path, size in
            if size == 0 { order.withLock { $0.append(path) } }
        })
        for name in ["a", "b", "c"] {
            try Self.write(dir + "/" + name, bytes: 3 << 20)
            reclaimer.remove(dir + "/" + name)
        }
        #expect(reclaimer.pendingBytes > 0)
        #expect(try await Self.eventually { reclaimer.pendingBytes == 0 })
        #expect(order.withLock { $0 } == ["a", "b", "c"].map { dir + "/" + $0 })
        #expect(try FileSystem.list(dir).isEmpty)
    }

    @Test("a file another descriptor still reads (a fetch sending it) keeps its bytes until that descriptor closes")
    func sharedFileWaits() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/00000000000000000000.log.deleted"
        try Self.write(path, bytes: 4 << 20)
        let reader = open(path, O_RDONLY | O_CLOEXEC)
        #expect(reader >= 0)
        let steps = Mutex(0)
        let reclaimer = FileReclaimer(pacing: .init(chunkBytes: 1 << 20, intervalMs: 1), onStep: { _, _ in
            steps.withLock { $0 += 1 }
        })
        reclaimer.remove(path)
        #expect(!FileSystem.exists(path))
        try await Task.sleep(for: .milliseconds(300))
        var info = stat()
        #expect(fstat(reader, &info) == 0 && info.st_size == 4 << 20, "the reader's file was cut: \(info.st_size)")
        #expect(steps.withLock { $0 } == 0 && reclaimer.pendingBytes == 4 << 20)
        close(reader)
        #expect(try await Self.eventually { reclaimer.pendingBytes == 0 })
        #expect(steps.withLock { $0 } == 4)
    }
}
