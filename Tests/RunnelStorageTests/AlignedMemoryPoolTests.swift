// The direct path's aligned buffers come from a pool that takes their memory back when the last slice
// of it is gone, so later buffers reuse pages already faulted in instead of fresh ones.
import NIOCore
import Testing
@testable import RunnelStorage

@Suite struct AlignedMemoryPoolTests {
    @Test func blocksAreWholeBufferSizesOrPages() {
        #expect(AlignedMemoryPool.blockSize(for: 1) == DirectIO.block)
        #expect(AlignedMemoryPool.blockSize(for: DirectIO.block + 1) == 2 * DirectIO.block)
        #expect(AlignedMemoryPool.blockSize(for: DirectIO.bufferBytes) == DirectIO.bufferBytes)
        #expect(AlignedMemoryPool.blockSize(for: DirectIO.bufferBytes + 1) == 2 * DirectIO.bufferBytes)
        #expect(AlignedMemoryPool.blockSize(for: 1 << 20) == 1 << 20)
        // Beyond 1 MiB, whole MiB: the catch-up's appends of a few MiB fall into few sizes, reused.
        #expect(AlignedMemoryPool.blockSize(for: (1 << 20) + 1) == 2 << 20)
        #expect(AlignedMemoryPool.blockSize(for: 5 * (1 << 20) + 300 * 1024) == 6 << 20)
    }

    @Test func aReleasedBlockIsReusedAndTheFreeListIsBounded() throws {
        let pool = AlignedMemoryPool(maxFreeBytes: 3 * DirectIO.bufferBytes)
        let size = DirectIO.bufferBytes
        let first = try #require(pool.allocate(size))
        #expect(Int(bitPattern: first) % DirectIO.block == 0)
        pool.release(first)
        #expect(pool.freeBytes == size)
        let again = try #require(pool.allocate(size))
        #expect(again == first)
        #expect(pool.counts.reused == 1)
        // Another size is not served from that block.
        let other = try #require(pool.allocate(2 * size))
        #expect(other != first)
        // Over the bound, the blocks that came back longest ago are freed.
        let blocks = (0..<4).compactMap { _ in pool.allocate(size) }
        for block in blocks { pool.release(block) }
        pool.release(again)
        pool.release(other)
        #expect(pool.freeBytes <= pool.maxFreeBytes)
    }

    @Test func theMostRecentlyReturnedBlocksStayWhenThePoolIsFull() throws {
        let unit = DirectIO.bufferBytes
        let pool = AlignedMemoryPool(maxFreeBytes: 4 * unit)
        // A full pool of small blocks (a produce's tail buffers)...
        let small = (0..<4).compactMap { _ in pool.take(unit)?.pointer }
        for block in small { pool.release(block) }
        #expect(pool.freeBytes == 4 * unit)
        // ... keeps a larger one returned after them (a replay's read), freeing the two oldest small ones,
        let large = try #require(pool.take(2 * unit))
        #expect(pool.freeBytes == 4 * unit)  // `take` found no block of that size: a fresh one
        pool.release(large.pointer)
        #expect(pool.freeBytes == 4 * unit)
        // ... which the next read of that size reuses; the two newest small blocks are still there.
        let again = try #require(pool.take(2 * unit))
        #expect(again.pointer == large.pointer)
        let kept = [try #require(pool.take(unit)).pointer, try #require(pool.take(unit)).pointer]
        #expect(Set(kept) == Set(small.suffix(2)))
        #expect(pool.counts.reused == 3)
        #expect(pool.freeBytes == 0)
        // Blocks handed out and returned again many times leave no trail behind.
        for _ in 0..<1_000 {
            let block = try #require(pool.take(unit))
            pool.release(block.pointer)
        }
        #expect(pool.freeBytes == unit)
        #expect(pool.returnedEntries <= 2 * 1 + 64)
    }

    @Test func aLargerReturnedBlockServesASmallerRequestWithinTheSpread() throws {
        let pool = AlignedMemoryPool(maxFreeBytes: 16 << 20)
        let big = try #require(pool.take(1 << 20))
        let half = try #require(pool.take(512 << 10))
        pool.release(big.pointer)
        pool.release(half.pointer)
        // The smallest returned block that fits: 512 KiB for 256 KiB, not the MiB.
        let quarter = try #require(pool.take(256 << 10, spread: 4))
        #expect(quarter.pointer == half.pointer && quarter.size == 512 << 10)
        // At most `spread` times the request: 64 KiB gets a new block of its own size.
        let small = try #require(pool.take(64 << 10, spread: 4))
        #expect(small.pointer != big.pointer && small.size == 64 << 10)
        // Within it, the MiB serves a 300 KiB request whole.
        let other = try #require(pool.take(300 << 10, spread: 4))
        #expect(other.pointer == big.pointer && other.size == 1 << 20)
        #expect(pool.counts.reused == 2)
        // Each goes back under its real size.
        for block in [quarter.pointer, small.pointer, other.pointer] { pool.release(block) }
        #expect(pool.freeBytes == (1 << 20) + (512 << 10) + (64 << 10))
    }

    @Test func aBufferGoesBackOnlyWhenItsLastSliceIsGone() throws {
        let before = AlignedMemoryPool.shared.counts
        var slice: ByteBuffer?
        do {
            let buffer = try #require(AlignedBuffer(capacity: DirectIO.bufferBytes))
            // The shared pool may hand out a larger returned block (up to reuseSpread times; other tests
            // return blocks to it too).
            #expect(buffer.capacity >= DirectIO.bufferBytes)
            #expect(buffer.capacity <= AlignedMemoryPool.reuseSpread * DirectIO.bufferBytes)
            #expect(Int(bitPattern: buffer.pointer) % DirectIO.block == 0)
            buffer.pointer.storeBytes(of: 0x5A, as: UInt8.self)
            slice = buffer.slice(at: 0, length: 1)
        }
        // The buffer is gone; its slice still reads the byte (the memory was not handed out again).
        let probe = try #require(AlignedBuffer(capacity: DirectIO.bufferBytes))
        probe.pointer.storeBytes(of: 0x11, as: UInt8.self)
        #expect(slice?.getInteger(at: slice!.readerIndex, as: UInt8.self) == 0x5A)
        slice = nil
        let reused = try #require(AlignedBuffer(capacity: DirectIO.bufferBytes))
        #expect(AlignedMemoryPool.shared.counts.reused > before.reused)
        _ = reused
    }
}
