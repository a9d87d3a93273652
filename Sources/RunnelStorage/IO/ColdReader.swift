// ColdReader: reads the segment ranges a consumer's fetch needs that are not in memory (a Kappa replay,
// a consumer far behind) with O_DIRECT into pooled memory (AlignedMemoryPool), off the event loop; the
// fetch then sends those bytes (writev) instead of the file (sendfile).
//
// Through the page cache, such a replay cost every producer on the broker (docs/benchmarks.md, session
// 20): the kernel's readahead (8 MiB windows here) and the fetch path's POSIX_FADV_WILLNEED kept
// megabytes of reads in the device queue, so producers' O_DIRECT writes and fdatasyncs waited behind them
// (7× more time in the write syscall during a replay), and reading through the page cache cost 0.64
// CPU-seconds per GB against 0.09 with O_DIRECT (fio, 1 MiB reads on this VM) — page-cache insertion
// and a copy into user space that bought nothing, since sendfile then sent the same pages again. Here at
// most `threads` reads of at most `chunkBytes` each are at the disk at a time (one read at a time already
// keeps this kind of disk at its sequential speed), no page is cached, and the one copy left is into the
// socket. A producer paced at half rate beside a full-speed replay: p99 160–923 ms before, 10–15 ms
// with this; the replay itself got faster.
import Foundation
import DequeModule
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class ColdReader: Sendable {
    /// The process's reader: one disk queue depth for all consumers' cold reads, whatever log they read.
    public static let shared = ColdReader(threads: 2, chunkBytes: 512 << 10)

    private struct Job {
        let file: LogFileHandle
        let start: Int64
        let end: Int64
        let into: Reads
        let slot: Int
    }

    /// The results of one `read` call, filled by the reader threads.
    private final class Reads: Sendable {
        let results: Mutex<[ByteBuffer?]>
        let left: Atomic<Int>
        let done: @Sendable ([ByteBuffer?]) -> Void

        init(count: Int, done: @escaping @Sendable ([ByteBuffer?]) -> Void) {
            results = Mutex(Array(repeating: nil, count: count))
            left = Atomic(count)
            self.done = done
        }

        func finish(_ slot: Int, _ bytes: ByteBuffer?) {
            results.withLock { $0[slot] = bytes }
            if left.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done(results.withLock { $0 }) }
        }
    }

    private struct State {
        var queue: Deque<Job> = []
        var threads = 0
        var reads: UInt64 = 0
        var readBytes: UInt64 = 0
    }

    let threads: Int
    let chunkBytes: Int
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    /// A thread with nothing to do for this long ends (a new one starts with the next read).
    static let idleSeconds = 5.0

    init(threads: Int, chunkBytes: Int) {
        self.threads = max(threads, 1)
        self.chunkBytes = Int(max(DirectIO.alignUp(Int64(chunkBytes)), Int64(DirectIO.block)))
    }

    /// Reads performed and bytes read so far (for tests).
    var counts: (reads: UInt64, bytes: UInt64) { state.withLock { ($0.reads, $0.readBytes) } }

    /// Reads every range into memory of its own with O_DIRECT and calls `done` (on a reader thread) with
    /// each range's bytes in order: nil where the file takes no O_DIRECT (tmpfs), a read failed, or the
    /// file ends before the range does (the caller then sends the file range as before).
    public func read(_ ranges: [(file: LogFileHandle, start: Int64, end: Int64)], done: @escaping @Sendable ([ByteBuffer?]) -> Void) {
        guard !ranges.isEmpty else { return done([]) }
        let reads = Reads(count: ranges.count, done: done)
        let jobs = ranges.enumerated().map { slot, range in
            Job(file: range.file, start: range.start, end: range.end, into: reads, slot: slot)
        }
        let spawn = state.withLock { s -> Int in
            s.queue.append(contentsOf: jobs)
            let more = max(min(threads - s.threads, s.queue.count), 0)
            s.threads += more
            return more
        }
        for _ in 0..<spawn {
            let thread = Thread { [self] in
                ThreadName.setCurrent("runnel-read")
                run()
            }
            thread.start()
        }
        for _ in jobs { wake.signal() }
    }

    private func run() {
        while true {
            guard let job = state.withLock({ $0.queue.popFirst() }) else {
                if wake.wait(timeout: .now() + Self.idleSeconds) == .timedOut {
                    let idle = state.withLock { s -> Bool in
                        guard s.queue.isEmpty else { return false }
                        s.threads -= 1
                        return true
                    }
                    if idle { return }
                }
                continue
            }
            job.into.finish(job.slot, read(job))
        }
    }

    /// The job's range read with O_DIRECT into a pooled block, `chunkBytes` per read; nil when the file
    /// takes no O_DIRECT, a read fails, or the file ends before the range does.
    private func read(_ job: Job) -> ByteBuffer? {
        guard job.end > job.start, let file = job.file.forDirectReads else { return nil }
        let from = DirectIO.alignDown(job.start)
        let span = Int(DirectIO.alignUp(job.end) - from)
        let needed = Int(job.end - from)
        guard var block = AlignedMemoryPool.buffer(atLeast: span) else { return nil }
        var reads: UInt64 = 0
        let read = block.withUnsafeMutableReadableBytes { raw -> Int in
            guard let base = raw.baseAddress, raw.count >= span else { return 0 }
            var done = 0
            while done < span {
                let n = pread(file.descriptor, base + done, min(chunkBytes, span - done), off_t(from) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
                reads += 1
                if n % DirectIO.block != 0 { break }  // the file's end
            }
            return done
        }
        state.withLock { s in
            s.reads += reads
            s.readBytes += UInt64(read)
        }
        guard read >= needed else { return nil }
        return block.getSlice(at: Int(job.start - from), length: Int(job.end - job.start))
    }
}
