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
//
// The bytes read are held until the fetch answer is written, so many consumers replaying at once could
// hold connections × fetch size. A budget bounds it (`log.cold.read.max.bytes`): a read that would take
// the bytes held beyond it is refused and the fetch reads through the page cache instead (off the event
// loop, then sendfile), as followers' fetches do. Each block's bytes go back to the budget when its
// storage is freed (the allocator's deallocation), whoever held it last.
import Foundation
import DequeModule
import Metrics
@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class ColdReader: Sendable {
    /// The process's reader: one disk queue depth for all consumers' cold reads, whatever log they read.
    public static let shared = ColdReader(threads: 2, chunkBytes: 512 << 10, maxHeldBytes: defaultMaxHeldBytes)

    /// The default `log.cold.read.max.bytes`.
    public static let defaultMaxHeldBytes = 64 << 20

    private struct Job {
        let file: LogFileHandle
        let start: Int64
        let end: Int64
        let into: Reads
        let slot: Int
        /// Bytes of the budget reserved for this job (its aligned span).
        let reserved: Int
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
        /// Bytes reserved by admitted reads and not yet freed (read or being read).
        var held = 0
        var maxHeld: Int
        /// Reads refused for the budget.
        var refused: UInt64 = 0
    }

    /// The reader and reserved bytes of each block a read put in a ByteBuffer, by address, until the
    /// buffer's storage is freed (the deallocation callback is a C function: it cannot capture a reader).
    private static let owners = Mutex<[UInt: (reader: ColdReader, bytes: Int)]>([:])

    /// ByteBuffers over the blocks reads fill: freeing one returns its block to the pool and its bytes to
    /// its reader's budget.
    static let allocator = ByteBufferAllocator(
        allocate: { size in AlignedMemoryPool.shared.allocate(size) },
        reallocate: { pointer, oldSize, newSize in
            guard let fresh = AlignedMemoryPool.shared.allocate(newSize) else { return nil }
            if let pointer {
                fresh.copyMemory(from: pointer, byteCount: min(oldSize, newSize))
                ColdReader.release(pointer)
            }
            return fresh
        },
        deallocate: { pointer in ColdReader.release(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) })

    /// A block's storage is gone: its bytes go back to its reader's budget and the block to the pool.
    private static func release(_ pointer: UnsafeMutableRawPointer) {
        if let owner = owners.withLock({ $0.removeValue(forKey: UInt(bitPattern: pointer)) }) {
            owner.reader.unreserve(owner.bytes)
        }
        AlignedMemoryPool.shared.release(pointer)
    }

    let threads: Int
    let chunkBytes: Int
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    /// A thread with nothing to do for this long ends (a new one starts with the next read).
    static let idleSeconds = 5.0
    private let bytesRead: Counter
    private let refusals: Counter
    private let heldGauge: Gauge

    init(threads: Int, chunkBytes: Int, maxHeldBytes: Int, factory: any MetricsFactory = MetricsSystem.factory) {
        self.threads = max(threads, 1)
        self.chunkBytes = Int(max(DirectIO.alignUp(Int64(chunkBytes)), Int64(DirectIO.block)))
        state = Mutex(State(maxHeld: max(maxHeldBytes, 0)))
        bytesRead = Counter(label: "runnel_storage_cold_read_bytes_total", factory: factory)
        refusals = Counter(label: "runnel_storage_cold_read_refused_total", factory: factory)
        heldGauge = Gauge(label: "runnel_storage_cold_read_held_bytes", factory: factory)
    }

    /// Reads performed and bytes read so far (for tests).
    var counts: (reads: UInt64, bytes: UInt64) { state.withLock { ($0.reads, $0.readBytes) } }

    /// Bytes held by admitted reads (read or being read, not yet freed), and reads refused for the budget.
    public var budget: (held: Int, refused: UInt64) { state.withLock { ($0.held, $0.refused) } }

    /// `log.cold.read.max.bytes`: the bytes admitted reads may hold at once; 0 refuses every read.
    public var maxHeldBytes: Int {
        get { state.withLock { $0.maxHeld } }
        set { state.withLock { $0.maxHeld = max(newValue, 0) } }
    }

    /// Reads every range as `read(_:done:)` does and answers on `eventLoop`; nil when the budget refuses
    /// the read (the caller reads through the page cache instead).
    public func read(_ ranges: [(file: LogFileHandle, start: Int64, end: Int64)], on eventLoop: any EventLoop) -> EventLoopFuture<[ByteBuffer?]>? {
        guard let spans = admit(ranges) else { return nil }
        let promise = eventLoop.makePromise(of: [ByteBuffer?].self)
        enqueue(ranges, reserving: spans) { promise.succeed($0) }
        return promise.futureResult
    }

    /// Reads every range into memory of its own with O_DIRECT and calls `done` (on a reader thread) with
    /// each range's bytes in order: nil where the file takes no O_DIRECT (tmpfs), a read failed, or the
    /// file ends before the range does (the caller then sends the file range as before). Returns false,
    /// and never calls `done`, when the bytes would go beyond `maxHeldBytes` while other reads hold some
    /// (a read is always admitted when none do, unless the budget is 0).
    @discardableResult
    func read(_ ranges: [(file: LogFileHandle, start: Int64, end: Int64)], done: @escaping @Sendable ([ByteBuffer?]) -> Void) -> Bool {
        guard let spans = admit(ranges) else { return false }
        enqueue(ranges, reserving: spans, done: done)
        return true
    }

    /// Each range's block-aligned span, reserved in the budget; nil when the budget refuses them.
    private func admit(_ ranges: [(file: LogFileHandle, start: Int64, end: Int64)]) -> [Int]? {
        let spans = ranges.map { $0.end > $0.start ? Int(DirectIO.alignUp($0.end) - DirectIO.alignDown($0.start)) : 0 }
        let total = spans.reduce(0, +)
        let held = state.withLock { s -> Int? in
            guard s.maxHeld > 0, s.held == 0 || s.held + total <= s.maxHeld else {
                s.refused += 1
                return nil
            }
            s.held += total
            return s.held
        }
        guard let held else {
            refusals.increment()
            return nil
        }
        heldGauge.record(held)
        return spans
    }

    private func unreserve(_ bytes: Int) {
        guard bytes > 0 else { return }
        heldGauge.record(state.withLock { s in
            s.held -= bytes
            return s.held
        })
    }

    /// Queues one job per admitted range (`spans`: what each reserved), all answering one `done`, and
    /// starts reader threads up to `threads`.
    private func enqueue(_ ranges: [(file: LogFileHandle, start: Int64, end: Int64)], reserving spans: [Int],
                         done: @escaping @Sendable ([ByteBuffer?]) -> Void) {
        guard !ranges.isEmpty else { return done([]) }
        let reads = Reads(count: ranges.count, done: done)
        let jobs = ranges.enumerated().map { slot, range in
            Job(file: range.file, start: range.start, end: range.end, into: reads, slot: slot, reserved: spans[slot])
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
        let from = DirectIO.alignDown(job.start)
        let span = Int(DirectIO.alignUp(job.end) - from)
        let needed = Int(job.end - from)
        guard job.end > job.start, let file = job.file.forDirectReads, var block = block(atLeast: span, reserved: job.reserved) else {
            unreserve(job.reserved)
            return nil
        }
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
        bytesRead.increment(by: read)
        guard read >= needed else { return nil }
        return block.getSlice(at: Int(job.start - from), length: Int(job.end - job.start))
    }

    /// A pooled block of at least `bytes` in a ByteBuffer whose freeing gives `reserved` back to the budget.
    private func block(atLeast bytes: Int, reserved: Int) -> ByteBuffer? {
        guard let (memory, size) = AlignedMemoryPool.shared.take(AlignedMemoryPool.blockSize(for: bytes),
                                                                 spread: AlignedMemoryPool.reuseSpread) else { return nil }
        Self.owners.withLock { $0[UInt(bitPattern: memory)] = (self, reserved) }
        return ByteBuffer(takingOwnershipOf: UnsafeMutableRawBufferPointer(start: memory, count: size), allocator: Self.allocator)
    }
}
