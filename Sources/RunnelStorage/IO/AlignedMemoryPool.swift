// AlignedMemoryPool: page-aligned memory for the direct write path's buffers (AlignedBuffer), recycled.
// A tail buffer lives on after its tail moved on — in the tail cache, and in fetch responses slicing it —
// and is freed only when the last slice goes. Freed with malloc's `free`, its pages went back to the
// kernel, and the next buffer faulted in fresh ones, each zeroed by the kernel first: a follower catching
// up spent a third of its CPU in `clear_page_erms`, and a direct-path produce the same per byte written.
// Here the memory comes from a ByteBuffer that takes ownership of it with a custom allocator whose
// deallocation hands the block back to this pool (bounded): the next buffer reuses pages already
// faulted in. Blocks are whole multiples of `DirectIO.bufferBytes`, so a freed block fits later requests.
@_spi(CustomByteBufferAllocator) import NIOCore
import Glibc
import Synchronization

/// The process's pool of aligned blocks (one pool: the memory is the process's, whatever log it serves).
final class AlignedMemoryPool: Sendable {
    private struct State {
        /// Size of every block handed out and not yet returned (by address), so `release` knows it.
        var live: [UInt: Int] = [:]
        /// Returned blocks by size, ready for reuse.
        var free: [Int: [UInt]] = [:]
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
            guard let best, var blocks = s.free[best], let block = blocks.popLast() else { return nil }
            s.free[best] = blocks.isEmpty ? nil : blocks
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

    /// Takes back a block (its last user is gone): kept for reuse while the pool has room, else freed.
    func release(_ pointer: UnsafeMutableRawPointer) {
        let address = UInt(bitPattern: pointer)
        let keep = state.withLock { s -> Bool in
            guard let size = s.live.removeValue(forKey: address) else { return false }
            guard s.freeBytes + size <= maxFreeBytes else { return false }
            s.free[size, default: []].append(address)
            s.freeBytes += size
            return true
        }
        if !keep { free(pointer) }
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

    /// A ByteBuffer owning a block of at least `bytes` (its capacity is the block's size, which may be a
    /// larger returned block), page-aligned at index 0; nil when no memory is left.
    static func buffer(atLeast bytes: Int) -> ByteBuffer? {
        guard let (memory, size) = shared.take(blockSize(for: bytes), spread: reuseSpread) else { return nil }
        return ByteBuffer(takingOwnershipOf: UnsafeMutableRawBufferPointer(start: memory, count: size), allocator: allocator)
    }
}
