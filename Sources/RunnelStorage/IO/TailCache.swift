// TailCache: the direct write path's read cache (issue 16). The aligned buffers an active segment's
// DirectTail copies appends into are registered here as they fill; a fetch whose bytes lie in them is
// answered with slices of those very buffers (ByteBuffers sharing their storage: no disk read, no
// page-cache fill, no copy in user space — NIO writes them with writev). Older ranges keep the file path
// (sendfile). One cache per LogManager, shared by every partition of every direct log dir, bounded by
// `log.cache.max.bytes`, least-recently-used chunk evicted first.
//
// Correctness rests on three rules. (1) A chunk belongs to one DirectTail (`key`); reads look it up only
// through the segment's current tail — or, once the segment rolled, through the closed segment's sealed
// registration — found under the partition lock, so a tail dropped by truncation, rollback, idle release,
// retention or compaction is never consulted again (its chunks are removed when it goes). (2) Bytes of a tail's buffers below its end never change while the tail lives (appends
// write past the end; a truncation drops the tail and the next append starts a new one). (3) A buffer
// any read may have sliced is never reused for new data (`AlignedBuffer.served`): the slices' ByteBuffer
// references keep its memory alive until the response is written.
import CoreMetrics
import NIOCore
import Synchronization

/// The shared cache of direct tails' buffers.
final class TailCache: Sendable {
    /// One buffer of a tail: `buffer` byte 0 is file position `start`; bytes up to `end` are the log's
    /// (`Int64.max` for the tail's current buffer, whose end is the tail's end).
    struct Chunk {
        var buffer: AlignedBuffer
        var start: Int64
        var end: Int64
        var lastUse: UInt64
    }

    private struct State {
        var tails: [UInt64: [Chunk]] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var nextKey: UInt64 = 0
    }

    let maxBytes: Int
    private let state = Mutex(State())
    private let hits: Counter
    private let misses: Counter
    private let evictions: Counter
    private let bytesGauge: Gauge

    init(maxBytes: Int, factory: any MetricsFactory = MetricsSystem.factory) {
        self.maxBytes = maxBytes
        hits = Counter(label: "runnel_storage_tail_cache_hits_total", factory: factory)
        misses = Counter(label: "runnel_storage_tail_cache_misses_total", factory: factory)
        evictions = Counter(label: "runnel_storage_tail_cache_evictions_total", factory: factory)
        bytesGauge = Gauge(label: "runnel_storage_tail_cache_bytes", factory: factory)
    }

    /// Bytes of the buffers the cache holds.
    var bytes: Int { state.withLock { $0.bytes } }

    /// A key for a new tail.
    func newKey() -> UInt64 {
        state.withLock { s in
            s.nextKey += 1
            return s.nextKey
        }
    }

    /// Registers the tail's new current buffer (file position `start` at its byte 0); the previous
    /// current buffer, if any, now ends at `previousEnd`. Evicts least-recently-used chunks to make room;
    /// a buffer larger than the whole cache is not cached.
    func add(key: UInt64, buffer: AlignedBuffer, start: Int64, previousEnd: Int64) {
        let (evicted, total) = state.withLock { s -> (Int, Int) in
            s.clock += 1
            if var chunks = s.tails[key], let last = chunks.indices.last, chunks[last].end == .max {
                chunks[last].end = previousEnd
                s.tails[key] = chunks
            }
            guard buffer.capacity <= maxBytes else { return (0, s.bytes) }
            var evicted = 0
            while s.bytes + buffer.capacity > maxBytes, Self.evictOldest(&s) { evicted += 1 }
            s.tails[key, default: []].append(Chunk(buffer: buffer, start: start, end: .max, lastUse: s.clock))
            s.bytes += buffer.capacity
            return (evicted, s.bytes)
        }
        if evicted > 0 { evictions.increment(by: evicted) }
        bytesGauge.record(total)
    }

    /// Forgets every chunk of a tail (it was dropped: truncation, roll, idle release, deletion).
    func remove(key: UInt64) {
        let total = state.withLock { s -> Int? in
            guard let chunks = s.tails.removeValue(forKey: key) else { return nil }
            for chunk in chunks { s.bytes -= chunk.buffer.capacity }
            return s.bytes
        }
        if let total { bytesGauge.record(total) }
    }

    /// The chunks of the tail `key` holding bytes at or after `position`, the current one ending at
    /// `end`, marked as used (LRU) and as possibly served; nil when none does. Called under the partition lock.
    func view(key: UInt64, from position: Int64, end: Int64) -> TailCacheView? {
        state.withLock { s -> TailCacheView? in
            guard var chunks = s.tails[key], !chunks.isEmpty else { return nil }
            s.clock += 1
            var found: [TailCacheView.Piece] = []
            for index in chunks.indices {
                let chunkEnd = min(chunks[index].end, end)
                guard chunkEnd > position else { continue }
                chunks[index].lastUse = s.clock
                chunks[index].buffer.served = true
                found.append(TailCacheView.Piece(buffer: chunks[index].buffer, start: chunks[index].start, end: chunkEnd))
            }
            s.tails[key] = chunks
            return found.isEmpty ? nil : TailCacheView(pieces: found)
        }
    }

    /// Counts a read answered from the cache, or one on a direct log dir answered from the file.
    func record(hit: Bool) {
        (hit ? hits : misses).increment()
    }

    private static func evictOldest(_ s: inout State) -> Bool {
        var oldest: (key: UInt64, index: Int, use: UInt64)?
        for (key, chunks) in s.tails {
            for (index, chunk) in chunks.enumerated() where oldest == nil || chunk.lastUse < oldest!.use {
                oldest = (key, index, chunk.lastUse)
            }
        }
        guard let oldest, var chunks = s.tails[oldest.key] else { return false }
        s.bytes -= chunks.remove(at: oldest.index).buffer.capacity
        s.tails[oldest.key] = chunks.isEmpty ? nil : chunks
        return true
    }
}

/// The cached bytes of one tail a read may use: pieces in file order, each `[start, end)` of the file.
/// Pieces of consecutive buffers overlap by at most a block (a new buffer starts with the partial block).
struct TailCacheView: Sendable {
    struct Piece: Sendable {
        var buffer: AlignedBuffer
        var start: Int64
        var end: Int64
    }

    var pieces: [Piece]

    /// A slice of one buffer from `position`: at least `atLeast` bytes, at most `atMost`; nil when no
    /// single piece holds `atLeast` bytes there.
    func window(at position: Int64, atLeast: Int, atMost: Int) -> ByteBuffer? {
        guard let piece = pieces.last(where: { $0.start <= position }), piece.end - position >= Int64(atLeast) else { return nil }
        let length = Int(min(Int64(atMost), piece.end - position))
        return piece.buffer.slice(at: Int(position - piece.start), length: length)
    }

    /// Slices covering `[position, position + length)` exactly, in order; nil unless all of it is cached.
    func slices(at position: Int64, length: Int) -> [ByteBuffer]? {
        var out: [ByteBuffer] = []
        var at = position
        let end = position + Int64(length)
        while at < end {
            guard let piece = pieces.last(where: { $0.start <= at }), piece.end > at,
                  let slice = piece.buffer.slice(at: Int(at - piece.start), length: Int(min(piece.end, end) - at))
            else { return nil }
            out.append(slice)
            at += Int64(slice.readableBytes)
        }
        return out
    }
}

/// One tail's buffers in the cache: its key there. The chunks leave the cache with the last reference —
/// the tail's, or after a roll the closed segment's (`LogSegment.sealedCache`), which keeps them
/// readable until the LRU evicts them or the segment's bytes change (truncation, deletion, compaction).
final class TailCacheRegistration: Sendable {
    let cache: TailCache
    let key: UInt64

    init(cache: TailCache) {
        self.cache = cache
        key = cache.newKey()
    }

    deinit { cache.remove(key: key) }

    func add(_ buffer: AlignedBuffer, start: Int64, previousEnd: Int64) {
        cache.add(key: key, buffer: buffer, start: start, previousEnd: previousEnd)
    }

    /// The cached bytes from `position` up to `end` (the tail's, or the closed segment's size).
    func view(from position: Int64, end: Int64) -> TailCacheView? {
        cache.view(key: key, from: position, end: end)
    }
}

extension PartitionLog {
    /// Drops the active segment's direct tail, and with it the tail's cached buffers (the partition is
    /// deleted). Writes in flight keep their own references to their buffers and file.
    func releaseDirectTail() {
        state.withLock { $0.local.activeSegment.directTail = nil }
    }
}
