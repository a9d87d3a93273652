// AlignedMemoryPool: page-aligned memory for the direct write path's buffers (AlignedBuffer), recycled.
// A tail buffer lives on after its tail moved on — in the tail cache, and in fetch responses slicing it —
// and is freed only when the last slice goes. Freed with malloc's `free`, its pages went back to the
// kernel, and the next buffer faulted in fresh ones, each zeroed by the kernel first: a follower catching
// up spent a third of its CPU in `clear_page_erms`, and a direct-path produce the same per byte written.
// Here the memory comes from a ByteBuffer that takes ownership of it with a custom allocator whose
// deallocation hands the block back to this pool (bounded): the next buffer reuses pages already
// faulted in. Blocks are whole multiples of `DirectIO.bufferBytes`, so a freed block fits later requests.
import DequeModule
@_spi(CustomByteBufferAllocator) import NIOCore
import Glibc
import Synchronization

/// The process's pool of aligned blocks (one pool: the memory is the process's, whatever log it serves).
final class AlignedMemoryPool: Sendable {
    private struct State {
        /// Size of every block handed out and not yet returned (by address), so `release` knows it.
        var live: [UInt: Int] = [:]
        /// Returned blocks by size, ready for reuse, oldest first (reuse takes the newest).
        var free: [Int: Deque<UInt>] = [:]
        /// Every returned block's number (in the order they came back) and size, while it waits.
        var waiting: [UInt: (number: UInt64, size: Int)] = [:]
        /// Returned blocks in the order they came back, for eviction; an entry whose block was handed out
        /// again since (its number no longer in `waiting`) is skipped.
        var returned: Deque<(number: UInt64, address: UInt)> = []
        var nextNumber: UInt64 = 0
        var freeBytes = 0
        var reused: UInt64 = 0
        var fresh: UInt64 = 0
    }

    /// The process's pool.
    static let shared = AlignedMemoryPool(maxFreeBytes: 64 << 20)

    /// ByteBuffers over the pool's blocks: freeing their storage returns the block to `shared`.
    static let allocator = ByteBufferAllocator(
        allocate: { size in AlignedMemoryPool.shared.allocate(size) },
        reallocate: { pointer, oldSize, newSize in AlignedMemoryPool.shared.reallocate(pointer, oldSize: oldSize, newSize: newSize) },
        deallocate: { pointer in AlignedMemoryPool.shared.release(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) })

    /// Returned blocks kept for reuse at most; beyond it they are freed.
    let maxFreeBytes: Int
    private let state = Mutex(State())

    init(maxFreeBytes: Int) {
        self.maxFreeBytes = maxFreeBytes
    }

    /// Bytes of returned blocks waiting for reuse.
    var freeBytes: Int { state.withLock { $0.freeBytes } }
    /// Entries of the eviction order (returned blocks, and stale entries of blocks handed out again; tests).
    var returnedEntries: Int { state.withLock { $0.returned.count } }
    /// Blocks handed out again from the pool, and blocks newly allocated (for tests and metrics).
    var counts: (reused: UInt64, fresh: UInt64) { state.withLock { ($0.reused, $0.fresh) } }

    /// The block size a request of `bytes` gets: a whole multiple of the tail's buffer size (pages for
    /// smaller requests, such as the probe's one block), and of `largeUnit` beyond it. Returned blocks are
    /// reused by exact size, so the large ones come in few sizes: a follower catching up appends answers of
    /// a few MiB whose sizes vary by the batch, and per 256 KiB each size was nearly new — its blocks went
    /// back to malloc and the next ones were faulted in and zeroed by the kernel again.
    static func blockSize(for bytes: Int) -> Int {
        let unit = bytes < DirectIO.bufferBytes ? DirectIO.block : bytes <= largeUnit ? DirectIO.bufferBytes : largeUnit
        return max(1, (bytes + unit - 1) / unit) * unit
    }

    /// The granularity of blocks above it (at most this much more memory than asked for, per block).
    static let largeUnit = 1 << 20

    /// A page-aligned block of at least `size` bytes: the smallest returned one of `size` up to `spread`
    /// times it, or a new one of exactly `size`. Returns the block and its real size.
    func take(_ size: Int, spread: Int = 1) -> (pointer: UnsafeMutableRawPointer, size: Int)? {
        guard size > 0 else { return nil }
        let recycled = state.withLock { s -> (UInt, Int)? in
            var best: Int?
            for candidate in s.free.keys where candidate >= size && candidate <= size * max(spread, 1) {
                if best.map({ candidate < $0 }) ?? true { best = candidate }
            }
            // In place (optional chaining on the dictionary's element): no copy of the size's list.
            guard let best, let block = s.free[best]?.popLast() else { return nil }
            if s.free[best]?.isEmpty == true { s.free[best] = nil }
            s.waiting[block] = nil
            s.freeBytes -= best
            s.live[block] = best
            s.reused += 1
            return (block, best)
        }
        if let (block, size) = recycled, let pointer = UnsafeMutableRawPointer(bitPattern: block) { return (pointer, size) }
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, DirectIO.block, size) == 0, let memory else { return nil }
        state.withLock { s in
            s.live[UInt(bitPattern: memory)] = size
            s.fresh += 1
        }
        return (memory, size)
    }

    /// A page-aligned block of at least `size` bytes (NIO's allocator: it uses `size` of them).
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        take(size)?.pointer
    }

    /// Takes back a block (its last user is gone) for reuse; beyond `maxFreeBytes` the blocks that came
    /// back longest ago are freed. The sizes asked for follow the load (a full-rate produce's 1 MiB tail
    /// buffers, a paced one's 256 KiB ones, a replaying consumer's multi-MiB cold reads), so the pool
    /// keeps the most recent ones: kept by arrival instead, a pool full of a produce's blocks freed every
    /// block of a six-partition replay's 50 MiB fetches, and each fetch read into fresh memory (146,000
    /// minor faults per GB read; docs/benchmarks.md, session 21).
    func release(_ pointer: UnsafeMutableRawPointer) {
        let address = UInt(bitPattern: pointer)
        let evicted = state.withLock { s -> [UInt] in
            guard let size = s.live.removeValue(forKey: address) else { return [address] }
            guard size <= maxFreeBytes else { return [address] }
            s.nextNumber += 1
            s.free[size, default: []].append(address)
            s.waiting[address] = (s.nextNumber, size)
            s.returned.append((s.nextNumber, address))
            s.freeBytes += size
            var evicted: [UInt] = []
            while s.freeBytes > maxFreeBytes, let oldest = s.returned.popFirst() {
                // The oldest of its size is first in its list (returns append, reuse takes the last).
                guard let entry = s.waiting[oldest.address], entry.number == oldest.number,
                      let index = s.free[entry.size]?.firstIndex(of: oldest.address) else { continue }
                s.free[entry.size]?.remove(at: index)
                if s.free[entry.size]?.isEmpty == true { s.free[entry.size] = nil }
                s.waiting[oldest.address] = nil
                s.freeBytes -= entry.size
                evicted.append(oldest.address)
            }
            // Entries of blocks handed out again pile up while nothing is evicted: drop them now and then.
            if s.returned.count > 2 * s.waiting.count + 64 {
                s.returned = Deque(s.returned.filter { s.waiting[$0.address]?.number == $0.number })
            }
            return evicted
        }
        for block in evicted { free(UnsafeMutableRawPointer(bitPattern: block)) }
    }

    /// NIO grows a storage it must copy (never the tail's own buffers, which are filled in place).
    func reallocate(_ pointer: UnsafeMutableRawPointer?, oldSize: Int, newSize: Int) -> UnsafeMutableRawPointer? {
        guard let fresh = allocate(newSize) else { return nil }
        if let pointer {
            fresh.copyMemory(from: pointer, byteCount: min(oldSize, newSize))
            release(pointer)
        }
        return fresh
    }

    /// How much larger than asked a returned block handed out by `buffer(atLeast:)` may be. The sizes
    /// appends ask for follow the producers' request sizes, which change with the load: with blocks reused
    /// by exact size only, a pool left full of the 1 MiB blocks of a full-rate burst served none of a paced
    /// produce's 256–512 KiB requests, and every new tail buffer was faulted in and zeroed by the kernel on
    /// the event loop (docs/benchmarks.md, session 20).
    static let reuseSpread = 4

    /// The spread `buffer(atLeast:)` uses: `reuseSpread`, or 1 in tests that need tail buffers of exactly
    /// the size asked (the shared pool holds whatever other tests returned).
    static let bufferSpread = Atomic<Int>(reuseSpread)

    /// A ByteBuffer owning a block of at least `bytes` (its capacity is the block's size, which may be a
    /// larger returned block), page-aligned at index 0; nil when no memory is left.
    static func buffer(atLeast bytes: Int) -> ByteBuffer? {
        guard let (memory, size) = shared.take(blockSize(for: bytes), spread: bufferSpread.load(ordering: .relaxed)) else { return nil }
        return ByteBuffer(takingOwnershipOf: UnsafeMutableRawBufferPointer(start: memory, count: size), allocator: allocator)
    }
}
