// IOUringBackend: executes a batch of writes and fsyncs on one io_uring ring: every run of adjacent
// writes (WriteRun) as one writev SQE, submitted together; once they completed, one fdatasync per
// touched file, all in flight at once (a single file is synced directly on the engine thread).
// IOEngine gives it the writes only on file systems with async buffered writes
// (`fileSystemHasAsyncBufferedWrites`); elsewhere it serves the sync stage alone.
import CLibURing
import Foundation
import NIOCore

final class IOUringBackend: IOBackend {
    private let ring: OpaquePointer
    private let capacity: Int

    init(entries: UInt32) throws(StorageError) {
        var error: Int32 = 0
        guard let ring = runnel_uring_create(entries, &error) else {
            throw .io(operation: "io_uring_queue_init", path: "", errno: error)
        }
        self.ring = ring
        capacity = Int(runnel_uring_sq_entries(ring))
    }

    func close() { runnel_uring_destroy(ring) }

    func execute(_ batch: [IORequest]) -> [Int32] {
        var results = [Int32](repeating: 0, count: batch.count)
        var start = 0
        while start < batch.count {
            start = executeRound(batch, from: start, results: &results)
        }
        return results
    }

    /// Runs as many requests from `start` as fit in the ring; returns the index of the first one left.
    private func executeRound(_ batch: [IORequest], from start: Int, results: inout [Int32]) -> Int {
        var end = start
        var syncFiles: [Int32] = []
        var writes = 0
        while end < batch.count {
            let request = batch[end]
            let newSync = request.sync && !syncFiles.contains(request.file.descriptor) ? 1 : 0
            let write = request.chunks.isEmpty ? 0 : 1
            if writes + write + syncFiles.count + newSync > capacity - 1 && end > start { break }
            if newSync == 1 { syncFiles.append(request.file.descriptor) }
            writes += write
            end += 1
        }
        var iovecLists: [UnsafeMutableBufferPointer<iovec>] = []
        defer { for list in iovecLists { list.deallocate() } }
        let runs = WriteRun.plan(batch[start..<end])
        // Phase 1: the writes (one SQE per run), all submitted at once.
        var queued = 0
        for (slot, run) in runs.enumerated() {
            let list = UnsafeMutableBufferPointer<iovec>.allocate(capacity: run.chunks.count)
            iovecLists.append(list)
            for (index, chunk) in run.chunks.enumerated() {
                // The request keeps `chunk` (and so its storage) alive until the round completes.
                let base = chunk.withUnsafeReadableBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
                list[index] = iovec(iov_base: base, iov_len: chunk.readableBytes)
            }
            if runnel_uring_prep_writev(ring, run.descriptor, list.baseAddress, UInt32(list.count),
                                        UInt64(run.position), UInt64(slot)) == 0 {
                queued += 1
            } else {
                let code = LogFileHandle.pwriteAll(descriptor: run.descriptor, chunks: run.chunks, at: run.position)
                for index in run.requests { results[index] = code }
            }
        }
        let wrote = submitAndReap(queued) { data, code in
            let run = runs[Int(data)]
            var result: Int32 = 0
            if code < 0 {
                result = -code
            } else if Int(code) < run.length {
                result = finishShortWrite(run, written: Int(code))
            }
            for index in run.requests { results[index] = result }
        }
        guard wrote else { return finishSynchronously(batch, start: start, end: end, results: &results) }
        // Phase 2: one fdatasync per touched file, all in flight together (the file system can commit
        // them in one journal transaction); the writes are complete, so no ordering flag is needed.
        var syncResults: [Int32: Int32] = [:]
        if syncFiles.count == 1 {
            // One file: nothing to overlap, and a ring fsync would only hop to an io-wq worker thread.
            syncResults[syncFiles[0]] = retryingEINTR { fdatasync(syncFiles[0]) }
            syncFiles.removeAll()
        }
        queued = 0
        for (slot, fd) in syncFiles.enumerated() {
            if runnel_uring_prep_fdatasync(ring, fd, UInt64(slot), 0) == 0 {
                queued += 1
            } else {
                syncResults[fd] = fdatasync(fd) == 0 ? 0 : errno
            }
        }
        let synced = submitAndReap(queued) { data, code in
            syncResults[syncFiles[Int(data)]] = code < 0 ? -code : 0
        }
        if !synced {
            for fd in syncFiles where syncResults[fd] == nil { syncResults[fd] = fdatasync(fd) == 0 ? 0 : errno }
        }
        for index in start..<end where batch[index].sync && results[index] == 0 {
            results[index] = syncResults[batch[index].file.descriptor] ?? 0
        }
        return end
    }

    /// The direct path's writes of one wave (at most one per file), all in flight at once; 0 or an errno
    /// per run. Short writes are finished with pwrite; if the ring fails as a whole every run is written
    /// again with pwrite (rewriting the same bytes is harmless).
    func writeDirect(_ runs: [DirectIO.Run], flags: Int32 = 0) -> [Int32] {
        var results = [Int32](repeating: 0, count: runs.count)
        var start = 0
        while start < runs.count {
            let end = min(runs.count, start + capacity - 1)
            var queued = 0
            for slot in start..<end {
                let run = runs[slot]
                if runnel_uring_prep_write_flags(ring, run.descriptor, run.pointer, UInt32(run.length), UInt64(run.position),
                                                 flags, UInt64(slot)) == 0 {
                    queued += 1
                } else {
                    results[slot] = DirectIO.writeAll(descriptor: run.descriptor, from: run.pointer, length: run.length,
                                                      at: run.position, flags: flags)
                }
            }
            let reaped = submitAndReap(queued) { data, code in
                let slot = Int(data)
                let run = runs[slot]
                if code < 0 {
                    results[slot] = -code
                } else if Int(code) < run.length {
                    let done = Int(code)
                    results[slot] = DirectIO.writeAll(descriptor: run.descriptor, from: run.pointer + done,
                                                      length: run.length - done, at: run.position + Int64(done), flags: flags)
                }
            }
            if !reaped {
                for slot in start..<end {
                    let run = runs[slot]
                    results[slot] = DirectIO.writeAll(descriptor: run.descriptor, from: run.pointer, length: run.length,
                                                      at: run.position, flags: flags)
                }
            }
            start = end
        }
        return results
    }

    /// Whether buffered writes on the file system holding `path` complete inside io_uring (no io-wq
    /// punt): XFS (Linux 6.0+) and btrfs (6.1+) implement async buffered writes; ext4, tmpfs and the
    /// rest do not, and each writev SQE would cost a worker-thread hop. Unknown → false (inline).
    static func fileSystemHasAsyncBufferedWrites(_ path: String) -> Bool {
        let type = runnel_fs_type(path)
        let xfs = 0x5846_5342, btrfs = 0x9123_683E
        return type == xfs || type == btrfs
    }

    /// Submits what is queued and reaps `count` completions, calling `body(user data, result)` for each.
    /// False when the ring failed as a whole (the caller finishes synchronously).
    private func submitAndReap(_ count: Int, _ body: (UInt64, Int32) -> Void) -> Bool {
        guard count > 0 else { return true }
        var reaped = 0
        var userData = [UInt64](repeating: 0, count: count)
        var codes = [Int32](repeating: 0, count: count)
        while reaped < count {
            let rc = runnel_uring_submit_and_wait(ring, UInt32(count - reaped))
            if rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY { return false }
            let got = Int(runnel_uring_reap(ring, &userData, &codes, UInt32(count - reaped)))
            for slot in 0..<got { body(userData[slot], codes[slot]) }
            reaped += got
        }
        return true
    }

    private func finishShortWrite(_ run: WriteRun, written: Int) -> Int32 {
        var skip = written
        var rest: [ByteBuffer] = []
        for chunk in run.chunks {
            if skip >= chunk.readableBytes {
                skip -= chunk.readableBytes
                continue
            }
            rest.append(chunk.getSlice(at: chunk.readerIndex + skip, length: chunk.readableBytes - skip) ?? chunk)
            skip = 0
        }
        return LogFileHandle.pwriteAll(descriptor: run.descriptor, chunks: rest, at: run.position + Int64(written))
    }

    private func finishSynchronously(_ batch: [IORequest], start: Int, end: Int, results: inout [Int32]) -> Int {
        let slice = Array(batch[start..<end])
        let posix = PosixIOBackend().execute(slice)
        for (offset, code) in posix.enumerated() { results[start + offset] = code }
        return end
    }
}
