// FileReclaimer: removes large files (deleted segments, a deleted partition's files, the cleaner's
// leftovers) without stalling every other writer of the file system. Unlinking a 1 GiB file frees all
// its blocks in one journal transaction, and on a file system mounted with `discard` (common on cloud
// VMs) that transaction also discards the whole gigabyte: every fdatasync of the disk waits for it.
// Measured here: a produce at half rate whose p99 was 6 ms reached 126–165 ms (max 160–208) while
// one such file was unlinked; truncated away 16 MiB every 10 ms it stayed at 6.5 ms
// (docs/benchmarks.md, session 18). So a large file's name is removed at once (recovery and
// listings never see it again) and its blocks are given back a chunk at a time, on this thread,
// through the descriptor kept open for it (the approach of RocksDB's rate-limited file deletion).
// A crash meanwhile leaves an orphan inode that the kernel frees at the next mount (ext4's orphan
// list), never a file Runnel would read.
import CoreMetrics
import Foundation
import Glibc
import Synchronization

/// Gives back large files' blocks in chunks; small files are unlinked at once.
public final class FileReclaimer: Sendable {
    /// How a reclaimer paces itself.
    public struct Pacing: Sendable, Equatable {
        /// Bytes freed per step (`log.delete.chunk.bytes`); 0: unlink every file at once.
        public var chunkBytes: Int64
        /// Pause between two steps in milliseconds (`log.delete.chunk.interval.ms`).
        public var intervalMs: Int64
        /// Pending bytes beyond which the pause is a quarter as long, so that deletion keeps up with a
        /// disk written faster than `chunkBytes / interval` (retention must free what produce writes).
        public var backlogBytes: Int64

        public static let defaultChunkBytes: Int64 = 16 << 20
        public static let defaultIntervalMs: Int64 = 10

        public init(chunkBytes: Int64 = defaultChunkBytes, intervalMs: Int64 = defaultIntervalMs, backlogBytes: Int64 = 4 << 30) {
            self.chunkBytes = max(chunkBytes, 0)
            self.intervalMs = max(intervalMs, 0)
            self.backlogBytes = max(backlogBytes, 0)
        }
    }

    private struct Pending {
        var fd: Int32
        var size: Int64
        var path: String
        /// Checked that no other descriptor of the process has the file open (then none can appear:
        /// the name is gone). Until then nothing is truncated.
        var unshared = false
        /// A file still open elsewhere waits until this instant before it is checked again.
        var notBefore: ContinuousClock.Instant?
    }

    private struct State {
        var pacing: Pacing
        var queue: [Pending] = []
        var pendingBytes: Int64 = 0
        var running = false
        /// `runnel_storage_delete_pending_bytes`, made on first use (after the broker bootstrapped metrics).
        var gauge: Gauge?

        mutating func report() {
            if gauge == nil { gauge = Gauge(label: "runnel_storage_delete_pending_bytes") }
            gauge?.record(pendingBytes)
        }
    }

    /// The reclaimer every log manager of the process uses (files of all log dirs share the disks'
    /// journals, so one pace for all); `LogManager` sets its pacing from the configuration.
    public static let shared = FileReclaimer()

    private let state: Mutex<State>
    /// Test hook: each truncation step's new size.
    private let onStep: (@Sendable (String, Int64) -> Void)?

    init(pacing: Pacing = Pacing(), onStep: (@Sendable (String, Int64) -> Void)? = nil) {
        state = Mutex(State(pacing: pacing))
        self.onStep = onStep
    }

    /// Sets the pace of files removed from now on (and of those still pending).
    public func configure(_ pacing: Pacing) { state.withLock { $0.pacing = pacing } }

    public var pacing: Pacing { state.withLock { $0.pacing } }

    /// Bytes of removed files not given back yet.
    public var pendingBytes: Int64 { state.withLock { $0.pendingBytes } }

    /// Removes `path`: its name is gone when this returns; a file larger than one chunk keeps its blocks
    /// until this reclaimer has truncated it away. A missing file is no error (as `unlink`).
    public func remove(_ path: String) {
        let chunk = state.withLock { $0.pacing.chunkBytes }
        var info = stat()
        guard chunk > 0, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            _ = unlink(path)
            return
        }
        // Preallocated blocks past the end (an active segment's `fallocate`) count too: the last step
        // would free them all at once otherwise.
        let allocated = max(Int64(info.st_size), Int64(info.st_blocks) * 512)
        guard allocated > chunk else {
            _ = unlink(path)
            return
        }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            _ = unlink(path)
            return
        }
        _ = unlink(path)
        let start = state.withLock { s -> Bool in
            s.queue.append(Pending(fd: fd, size: allocated, path: path))
            s.pendingBytes += allocated
            s.report()
            guard !s.running else { return false }
            s.running = true
            return true
        }
        // A running thread takes the new file in turn; an idle reclaimer has no thread.
        if start {
            let thread = Thread { [self] in
                ThreadName.setCurrent("runnel-reclaim")
                // Truncating a file whose pages are cached (a segment just copied to the remote tier, or read
                // by the cleaner) frees them at a cost in CPU: at normal priority that took a contended core from
                // the producers (p99 94 ms against 12 ms with the deletion delayed, docs/benchmarks.md, session 19).
                ThreadPriority.setCurrentBackground()
                run()
            }
            thread.start()
        }
    }

    /// How long a file still open elsewhere (a fetch sending it, a reader of a `.deleted` segment) waits
    /// before it is checked again: truncating it would cut the reader short.
    static let sharedRetry: Duration = .seconds(1)

    private func run() {
        while true {
            let now = ContinuousClock.now
            let next = state.withLock { s -> (index: Int, file: Pending, pacing: Pacing, backlog: Int64)?? in
                guard !s.queue.isEmpty else {
                    s.running = false
                    return nil
                }
                guard let index = s.queue.firstIndex(where: { $0.notBefore.map { $0 <= now } ?? true }) else { return .some(nil) }
                return (index, s.queue[index], s.pacing, s.pendingBytes)
            }
            guard let next else { return }
            guard let (index, file, pacing, backlog) = next else {
                // Every pending file is open elsewhere for now.
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            if !file.unshared {
                if Self.openElsewhere(file.fd) {
                    state.withLock { $0.queue[index].notBefore = now + Self.sharedRetry }
                    continue
                }
                state.withLock { $0.queue[index].unshared = true }
                // Blocks preallocated past the end are freed by the steps only once the size covers them
                // (grown only now: no reader of the file is left to see the zeros).
                var info = stat()
                if fstat(file.fd, &info) == 0, Int64(info.st_size) < file.size { _ = ftruncate(file.fd, off_t(file.size)) }
            }
            let size = pacing.chunkBytes > 0 ? max(file.size - pacing.chunkBytes, 0) : 0
            if size == 0 {
                close(file.fd)
            } else {
                _ = ftruncate(file.fd, off_t(size))
            }
            onStep?(file.path, size)
            state.withLock { s in
                s.pendingBytes -= file.size - size
                s.report()
                if size == 0 {
                    s.queue.remove(at: index)
                } else {
                    s.queue[index].size = size
                }
            }
            let pauseMs = backlog > pacing.backlogBytes ? Double(pacing.intervalMs) / 4 : Double(pacing.intervalMs)
            if pauseMs > 0 { Thread.sleep(forTimeInterval: pauseMs / 1000) }
        }
    }

    /// Whether another descriptor of this process refers to the same file as `fd` (found through
    /// /proc/self/fd; a few microseconds per open descriptor, once per removed file). A number reused
    /// since the listing cannot name this file: its name is gone, so no new descriptor can open it.
    static func openElsewhere(_ fd: Int32) -> Bool {
        var mine = stat()
        guard fstat(fd, &mine) == 0, let names = try? FileSystem.list("/proc/self/fd") else { return false }
        for name in names {
            guard let other = Int32(name), other != fd else { continue }
            var info = stat()
            if fstat(other, &info) == 0, info.st_dev == mine.st_dev, info.st_ino == mine.st_ino { return true }
        }
        return false
    }
}
