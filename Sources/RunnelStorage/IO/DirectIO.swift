// DirectIO: the direct-I/O write path for segment data (`log.io.mode`). Per active segment a
// block-aligned tail buffer (`DirectTail`) receives each appended batch once (the only user-space copy);
// the engine's write stage writes the aligned span that covers it with O_DIRECT, the partial last block
// zero-padded, and rewrites that block in place when more data arrives. Durability is the sync stage's
// as on the buffered path (fdatasync per touched file, group commit). Readers keep reading the file
// through the page cache (Linux invalidates cached pages over a direct write's range, so they are
// coherent); index files, snapshots and checkpoints stay buffered. See docs/decisions/0010-direct-io.md.
#if canImport(Glibc)
import Glibc
#endif
import CLibURing
import Logging
import NIOCore

/// How a log dir writes segment data (`log.io.mode`).
public enum LogIOMode: String, Sendable, CaseIterable {
    /// Direct where the file system is disk-backed and accepts an aligned O_DIRECT write (ext4, XFS);
    /// buffered elsewhere (tmpfs, whose pages are the storage, even where it accepts O_DIRECT since Linux 6.6).
    case auto
    /// O_DIRECT segment writes; a log dir whose file system refuses them stays offline.
    case direct
    /// Writes through the page cache.
    case buffered
}

/// How the direct path makes an append durable (`log.io.direct.sync`).
public enum DirectSync: String, Sendable, CaseIterable {
    /// O_DIRECT writes, then the sync stage's fdatasync per touched file and round (rounds overlap).
    case fdatasync
    /// O_DIRECT writes with RWF_DSYNC: durable when they complete; the sync stage skips them.
    case dsync
}

enum DirectIO {
    /// RWF_DSYNC (linux/fs.h): a write with O_DSYNC semantics, for this call only.
    static let rwfDsync: Int32 = 0x2

    /// O_DIRECT (a GNU extension Swift's Glibc module does not export): its value per architecture.
    #if arch(arm64) || arch(arm)
    static let openFlag: Int32 = 0o200000
    #else
    static let openFlag: Int32 = 0o40000
    #endif
    /// Alignment of file offsets, lengths and memory of direct writes: the page size, which every
    /// logical block size in use (512, 4096) divides.
    static let block = 4096
    /// Capacity of a fresh tail buffer (an append larger than this gets a buffer that fits it).
    static let bufferBytes = 256 * 1024

    static func alignDown(_ value: Int64) -> Int64 { value & ~Int64(block - 1) }
    static func alignUp(_ value: Int64) -> Int64 { alignDown(value + Int64(block - 1)) }

    /// Decides the mode of the log dir at `path`: for `auto` and `direct`, opens a probe file with O_DIRECT
    /// and writes one aligned block. Returns whether to write directly and why (for the log line).
    static func resolve(_ mode: LogIOMode, path: String) -> (direct: Bool, reason: String) {
        if mode == .buffered { return (false, "log.io.mode = buffered") }
        let tmpfs = 0x0102_1994, ramfs = 0x8584_58F6
        let type = runnel_fs_type(path)
        if mode == .auto && (type == tmpfs || type == ramfs) {
            return (false, "log.io.mode = auto on a memory file system (tmpfs): its page cache is the storage")
        }
        let probe = path + "/.runnel-direct-io-probe"
        defer { FileSystem.unlink(probe) }
        let fd = probe.withCString { Glibc.open($0, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | DirectIO.openFlag, 0o644) }
        guard fd >= 0 else {
            return (false, "the file system refuses O_DIRECT (open: \(describeErrno(errno)))")
        }
        defer { _ = close(fd) }
        guard let buffer = AlignedBuffer(capacity: block) else { return (false, "no memory for an aligned probe buffer") }
        memset(buffer.pointer, 0, block)
        let written = pwrite(fd, buffer.pointer, block, 0)
        guard written == block else {
            return (false, "an aligned O_DIRECT write failed (\(written < 0 ? describeErrno(errno) : "short write"))")
        }
        return (true, mode == .direct ? "log.io.mode = direct; an aligned O_DIRECT write succeeded"
                                      : "log.io.mode = auto and the file system accepts aligned O_DIRECT writes")
    }

    /// One O_DIRECT write of a drain: the requests it covers share its result.
    struct Run {
        var descriptor: Int32
        var pointer: UnsafeMutableRawPointer
        var length: Int
        var position: Int64
        var requests: [Int]
    }

    /// Writes the direct requests of a drain: consecutive requests into the same tail buffer whose spans
    /// touch or overlap (a partition's appends of one round) become one O_DIRECT write. Requests whose
    /// result is already an error (injected faults) are skipped. With a ring the runs are in flight
    /// together (several partitions' device writes overlap); runs of the same file go in separate waves,
    /// in order, since two of them can cover the same partial block. Then the roll/close truncations run.
    /// With `dsync` every write carries RWF_DSYNC (durable on completion).
    static func execute(_ requests: [IORequest], results: inout [Int32], ring: IOUringBackend?, dsync: Bool = false) {
        let flags = dsync ? rwfDsync : 0
        var runs: [Run] = []
        var index = 0
        while index < requests.count {
            guard let span = requests[index].direct, results[index] == 0 else {
                index += 1
                continue
            }
            let descriptor = requests[index].file.descriptor
            let start = requests[index].position
            var end = start + Int64(span.length)
            var members = [index]
            var next = index + 1
            while next < requests.count, let more = requests[next].direct, results[next] == 0, more.buffer === span.buffer,
                  requests[next].file.descriptor == descriptor, requests[next].position >= start, requests[next].position <= end {
                end = max(end, requests[next].position + Int64(more.length))
                members.append(next)
                next += 1
            }
            runs.append(Run(descriptor: descriptor, pointer: span.buffer.pointer + span.offset, length: Int(end - start),
                            position: start, requests: members))
            index = next
        }
        if !runs.isEmpty {
            // Each wave holds at most one run per file, in drain order.
            var waves: [[Run]] = []
            var waveOfFile: [Int32: Int] = [:]
            for run in runs {
                let wave = (waveOfFile[run.descriptor].map { $0 + 1 }) ?? 0
                waveOfFile[run.descriptor] = wave
                if wave == waves.count { waves.append([]) }
                waves[wave].append(run)
            }
            for wave in waves {
                let codes: [Int32]
                if wave.count > 1, let ring {
                    codes = ring.writeDirect(wave, flags: flags)
                } else {
                    codes = wave.map { writeAll(descriptor: $0.descriptor, from: $0.pointer, length: $0.length, at: $0.position, flags: flags) }
                }
                for (run, code) in zip(wave, codes) {
                    for member in run.requests { results[member] = code }
                }
            }
        }
        for (slot, request) in requests.enumerated() where results[slot] == 0 {
            if let size = request.truncateTo {
                results[slot] = retryingEINTR { ftruncate(request.file.descriptor, off_t(size)) }
            }
        }
    }

    /// pwrite until all `length` bytes are written; 0 or the errno.
    static func writeAll(descriptor: Int32, from pointer: UnsafeMutableRawPointer, length: Int, at position: Int64,
                         flags: Int32 = 0) -> Int32 {
        if flags != 0 && GlibcExtras.pwritev2 == nil { return ENOSYS }
        var done = 0
        while done < length {
            let n: Int
            if flags != 0, let pwritev2 = GlibcExtras.pwritev2 {
                var vector = iovec(iov_base: pointer + done, iov_len: length - done)
                n = pwritev2(descriptor, &vector, 1, off_t(position) + off_t(done), flags)
            } else {
                n = pwrite(descriptor, pointer + done, length - done, off_t(position) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            done += n
        }
        return 0
    }

    /// Reserves `bytes` of blocks for the file without changing its size (FALLOC_FL_KEEP_SIZE), so the
    /// size keeps saying how far data was written. Best effort: false where unsupported.
    @discardableResult
    static func preallocate(_ file: LogFileHandle, bytes: Int) -> Bool {
        guard bytes > 0, let call = GlibcExtras.fallocate else { return false }
        return call(file.descriptor, 1, 0, Int64(bytes)) == 0
    }
}

/// Page-aligned memory owned by a ByteBuffer's storage (a block of `AlignedMemoryPool`, back in the pool
/// with the last reference: the tail, the writes in flight, the tail cache and any fetch response slicing
/// it). Not zeroed: the tail zeroes the padding of each write it hands out.
final class AlignedBuffer: @unchecked Sendable {
    // @unchecked: the bytes are written only under the partition lock, below the tail's end; the engine
    // reads them after the write was queued. Bytes past a write's logical end may change while it runs
    // (a later append filling the block): they are padding to that write and rewritten by the next one.
    // Slices handed to readers (`slice`) cover bytes below the tail's end only, which never change.
    let pointer: UnsafeMutableRawPointer
    /// At least what was asked for: the pool's block size.
    let capacity: Int
    /// The storage, `pointer` at index 0: slices of it share the memory (zero copy).
    private let storage: ByteBuffer
    /// A read may have sliced the buffer (tail cache): it is never reused for other bytes. Under the
    /// partition lock.
    var served = false

    init?(capacity: Int) {
        guard capacity > 0, var storage = AlignedMemoryPool.buffer(atLeast: capacity) else { return nil }
        let base = storage.withUnsafeMutableReadableBytes { UnsafeMutableRawPointer($0.baseAddress) }
        guard let base else { return nil }
        pointer = base
        self.capacity = storage.readableBytes
        self.storage = storage
    }

    /// `length` bytes from `at`, sharing the memory (nil outside the buffer).
    func slice(at: Int, length: Int) -> ByteBuffer? {
        guard at >= 0, length >= 0, at + length <= capacity else { return nil }
        return storage.getSlice(at: at, length: length)
    }
}

/// A direct write's bytes: `length` (block-aligned) bytes at `offset` of `buffer`.
struct DirectSpan {
    let buffer: AlignedBuffer
    let offset: Int
    let length: Int
}

/// The aligned tail of one active segment on the direct path. Used only under its partition's lock.
final class DirectTail {
    /// The segment file opened with O_DIRECT (separate from the cached, buffered handle readers use).
    let file: LogFileHandle
    private var buffer: AlignedBuffer
    /// File position of the buffer's first byte (block-aligned).
    private var bufferStart: Int64
    /// One past the last byte appended (the segment's logical size).
    private(set) var end: Int64
    /// Earlier buffers, reused once no write in flight holds them (so a busy partition cycles through a
    /// few buffers instead of allocating — and faulting in — a fresh one each time).
    private var spares: [AlignedBuffer] = []
    private static let maxSpares = 2
    /// When the last append went through this tail (a tail idle for `idleReleaseMs` is dropped).
    var lastAppendMs: Int64 = 0
    static let idleReleaseMs: Int64 = 30_000
    /// Its buffers' registration with the tail cache (nil: not cached). It outlives the tail when the
    /// segment rolls (`LogSegment.sealDirectTail`).
    let cached: TailCacheRegistration?

    /// A tail whose logical end is `end`: the partial last block is read back from `source`.
    init(path: String, source: LogFileHandle, end: Int64, cache: TailCache? = nil) throws(StorageError) {
        let fd = path.withCString { Glibc.open($0, O_RDWR | O_CLOEXEC | DirectIO.openFlag) }
        guard fd >= 0 else { throw .io(operation: "open (O_DIRECT)", path: path, errno: errno) }
        file = LogFileHandle(descriptor: fd, path: path)
        guard let buffer = AlignedBuffer(capacity: DirectIO.bufferBytes) else {
            throw .io(operation: "posix_memalign", path: path, errno: ENOMEM)
        }
        self.buffer = buffer
        bufferStart = DirectIO.alignDown(end)
        self.end = end
        let partial = Int(end - bufferStart)
        if partial > 0 {
            let bytes = try source.read(at: bufferStart, length: partial)
            guard bytes.readableBytes == partial else { throw .io(operation: "pread (direct tail)", path: path, errno: EIO) }
            bytes.withUnsafeReadableBytes { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: partial) }
        }
        cached = cache.map { TailCacheRegistration(cache: $0) }
        cached?.add(buffer, start: bufferStart, previousEnd: end)
    }

    /// The cached bytes of this tail from `position` on, up to its end (nil without a cache or a chunk there).
    func cacheView(from position: Int64) -> TailCacheView? {
        cached?.view(from: position, end: end)
    }

    /// A buffer of at least `capacity` bytes that no write in flight holds: a spare, or a new one.
    private func freshBuffer(capacity: Int) throws(StorageError) -> AlignedBuffer {
        for index in spares.indices where spares[index].capacity >= capacity && !spares[index].served
            && isKnownUniquelyReferenced(&spares[index]) {
            return spares.remove(at: index)
        }
        guard let fresh = AlignedBuffer(capacity: capacity) else {
            throw .io(operation: "posix_memalign", path: file.path, errno: ENOMEM)
        }
        return fresh
    }

    /// Copies `chunks` (`length` bytes, to be appended at `end`) into the buffer; returns the aligned file
    /// position and span to write: from the block holding the old end to the block holding the new end,
    /// zero-padded.
    func append(_ chunks: [ByteBuffer], length: Int) throws(StorageError) -> (position: Int64, span: DirectSpan) {
        let used = Int(end - bufferStart)
        if used + length > buffer.capacity {
            // A fresh buffer starting with the partial last block; writes in flight keep the old one.
            let keepFrom = DirectIO.alignDown(end)
            let keep = Int(end - keepFrom)
            let capacity = max(DirectIO.bufferBytes, Int(DirectIO.alignUp(Int64(keep + length))))
            let fresh = try freshBuffer(capacity: capacity)
            if keep > 0 { fresh.pointer.copyMemory(from: buffer.pointer + Int(keepFrom - bufferStart), byteCount: keep) }
            if !buffer.served {
                if spares.count >= Self.maxSpares { spares.removeFirst() }
                spares.append(buffer)
            }
            buffer = fresh
            bufferStart = keepFrom
            cached?.add(fresh, start: keepFrom, previousEnd: end)
        }
        var at = Int(end - bufferStart)
        for chunk in chunks {
            let count = chunk.readableBytes
            guard count > 0 else { continue }
            chunk.withUnsafeReadableBytes { (buffer.pointer + at).copyMemory(from: $0.baseAddress!, byteCount: count) }
            at += count
        }
        let writeStart = DirectIO.alignDown(end)
        end += Int64(length)
        let writeEnd = DirectIO.alignUp(end)
        // The padding of the last block is written as zeros (a later append overwrites it in the buffer).
        if writeEnd > end { memset(buffer.pointer + at, 0, Int(writeEnd - end)) }
        return (writeStart, DirectSpan(buffer: buffer, offset: Int(writeStart - bufferStart), length: Int(writeEnd - writeStart)))
    }
}

extension LogSegment {
    /// Copies an append at `position` into the segment's direct tail (created, or rebuilt after a
    /// truncation, when its end is not `position`); returns the O_DIRECT handle, position and span to write.
    func directWrite(_ chunks: [ByteBuffer], at position: Int64, length: Int, nowMs: Int64,
                     cache: TailCache? = nil) throws(StorageError) -> (file: LogFileHandle, position: Int64, span: DirectSpan) {
        if directTail?.end != position {
            directTail = nil
            directTail = try DirectTail(path: logPath, source: try logFile(), end: position, cache: cache)
        }
        guard let tail = directTail else { throw .io(operation: "direct tail", path: logPath, errno: EIO) }
        tail.lastAppendMs = nowMs
        let (at, span) = try tail.append(chunks, length: length)
        return (tail.file, at, span)
    }
}

extension LocalLog {
    /// Drops the active segment's direct tail (its buffers and O_DIRECT handle) once no append used it for
    /// `DirectTail.idleReleaseMs` and no write is in flight (the next append reads the partial block back
    /// from the file, which then holds it), so idle partitions hold no tail memory. The file keeps its
    /// padded last block until then; recovery and `runnel log dump` know padding.
    func releaseIdleDirectTail(nowMs: Int64) {
        guard isIdle, let tail = activeSegment.directTail, nowMs - tail.lastAppendMs >= DirectTail.idleReleaseMs else { return }
        activeSegment.directTail = nil
    }
}
