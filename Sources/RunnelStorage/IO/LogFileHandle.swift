// LogFileHandle: a reference-counted open file descriptor plus the positional I/O the log needs.
// A read slice holds one, so a segment renamed to `.deleted` (or evicted from the handle cache)
// stays readable until the last slice is released.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CLibURing
import NIOCore
import Synchronization

func describeErrno(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

/// An open file. The descriptor is closed when the last reference goes away.
public final class LogFileHandle: Sendable {
    /// The POSIX file descriptor (valid as long as this object is alive). For `sendfile`/`FileRegion`.
    public let descriptor: Int32
    /// The path the file was opened under (it may have been renamed since).
    public let path: String
    /// How far sequential reads asked the kernel to read ahead (`readAhead`).
    private let readAheadMark = Atomic<Int64>(0)
    /// The same file opened again with O_DIRECT for ColdReader's reads (tried once; nil: not supported).
    private let directReads = Mutex<(tried: Bool, handle: LogFileHandle?)>((false, nil))

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// Opens `path` read-write; creates it when `create` is true.
    static func open(_ path: String, create: Bool) throws(StorageError) -> LogFileHandle {
        var flags = O_RDWR | O_CLOEXEC
        if create { flags |= O_CREAT }
        let fd = path.withCString { Glibc.open($0, flags, 0o644) }
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        return LogFileHandle(descriptor: fd, path: path)
    }

    /// The same file opened again read-only (through /proc/self/fd, so a rename since does not matter),
    /// with its own readahead state set to none (POSIX_FADV_RANDOM): for a bulk reader that reads in large
    /// steps of its own, one at a time, and must not have the kernel queue megabytes of readahead at the
    /// disk ahead of everyone else's writes. Readers of this handle keep their readahead. nil when the
    /// reopen fails (no /proc): the caller reads through this handle.
    func reopenedForScan() -> LogFileHandle? {
        let handle = reopenedReadOnly()
        handle?.disableReadahead()
        return handle
    }

    /// The same file opened again read-only through /proc/self/fd (a rename since does not matter), with
    /// `flags` added; nil when the open fails.
    private func reopenedReadOnly(flags: Int32 = 0) -> LogFileHandle? {
        let fd = "/proc/self/fd/\(descriptor)".withCString { Glibc.open($0, O_RDONLY | O_CLOEXEC | flags) }
        return fd >= 0 ? LogFileHandle(descriptor: fd, path: path) : nil
    }

    /// This file through a read-only O_DIRECT descriptor of its own (through /proc/self/fd), opened once
    /// and kept as long as this handle; nil where the file system takes no O_DIRECT (tmpfs) or there is
    /// no /proc.
    var forDirectReads: LogFileHandle? {
        directReads.withLock { cached in
            if cached.tried { return cached.handle }
            cached.tried = true
            cached.handle = reopenedReadOnly(flags: DirectIO.openFlag)
            return cached.handle
        }
    }

    /// Whether every page of [start, end) is in the page cache, asked without reading the disk: one
    /// cachestat(2) call, or where the kernel has none (before 6.5) mincore(2) over a read-only mapping
    /// of the range (the broker owns its segment files, which mincore requires since Linux 5.0). False
    /// where neither can tell: the caller then reads the range off the event loop. A range only partly
    /// cached counts as not cached. Session 20 probed the last byte with a 1-byte preadv2(RWF_NOWAIT),
    /// but a probe that misses still reads the page it asked for, so a second replay found every range's
    /// last page cached and sent whole cold ranges with sendfile, reading the disk on the event loop
    /// (docs/benchmarks.md, session 21).
    public func isCached(from start: Int64, to end: Int64) -> Bool {
        guard end > start else { return true }
        let first = start / Self.pageSize * Self.pageSize
        let pages = UInt64((end - first + Self.pageSize - 1) / Self.pageSize)
        var cached: UInt64 = 0
        if runnel_cachestat(descriptor, UInt64(first), UInt64(end - first), &cached) == 0 { return cached >= pages }
        return isResident(from: start, to: end) ?? false
    }

    /// `isCached(from:to:)` by mincore(2); nil when the range cannot be mapped or mincore fails.
    func isResident(from start: Int64, to end: Int64) -> Bool? {
        guard end > start else { return true }
        let first = start / Self.pageSize * Self.pageSize
        let length = Int(end - first)
        guard let mapping = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, off_t(first)), mapping != MAP_FAILED else { return nil }
        defer { munmap(mapping, length) }
        var pages = [UInt8](repeating: 0, count: (length + Int(Self.pageSize) - 1) / Int(Self.pageSize))
        guard mincore(mapping, length, &pages) == 0 else { return nil }
        return pages.allSatisfy { $0 & 1 == 1 }
    }

    private static let pageSize = Int64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))

    /// Reads [start, end) and discards the bytes, so that the range is in the page cache afterwards
    /// (blocking: for a thread pool, never an event loop).
    public func warm(from start: Int64, to end: Int64) {
        guard end > start else { return }
        let chunk = 1 << 20
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { scratch.deallocate() }
        var position = start
        while position < end {
            let n = pread(descriptor, scratch, Int(min(Int64(chunk), end - position)), off_t(position))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            position += Int64(n)
        }
    }

    /// Drops the file's cached pages in [start, end) (POSIX_FADV_DONTNEED): a bulk reader done with a range
    /// of a file about to be deleted frees its pages as it goes, at its own pace, instead of leaving them
    /// all for the deletion to free at once (docs/benchmarks.md, session 19).
    func dropCache(from start: Int64, to end: Int64) {
        guard end > start else { return }
        _ = posix_fadvise(descriptor, off_t(start), off_t(end - start), POSIX_FADV_DONTNEED)
    }

    /// Turns the kernel's readahead off for this open file (POSIX_FADV_RANDOM; every handle sharing the
    /// descriptor is affected, so only for a handle of the caller's own).
    func disableReadahead() {
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_RANDOM)
    }

    /// Keeps the page cache ahead of a sequential reader that is about to read [start, end): when less
    /// than half of `window` is left ahead of `end`, asks the kernel (POSIX_FADV_WILLNEED, which starts
    /// the reads and does not wait) for everything up to `end + window`. The direct write path never
    /// puts segment data in the page cache, so a follower catching up beyond the tail cache
    /// otherwise reads the disk in the kernel's 128 KiB read-ahead steps, synchronously, on every
    /// fetch. One atomic load when nothing is due; a reader far behind the mark (another reader's) gets
    /// its own range advised without moving the mark back.
    func readAhead(from start: Int64, to end: Int64, window: Int64 = 8 << 20) {
        let mark = readAheadMark.load(ordering: .relaxed)
        let behind = start < mark - 2 * window
        if !behind && end + window / 2 <= mark { return }
        let from = !behind && mark > start ? mark : start
        let to = end + window
        guard to > from else { return }
        #if canImport(Glibc)
        _ = posix_fadvise(descriptor, off_t(from), off_t(to - from), POSIX_FADV_WILLNEED)
        #endif
        if !behind { readAheadMark.store(max(mark, to), ordering: .relaxed) }
    }

    /// Current size of the file in bytes.
    func size() throws(StorageError) -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int64(info.st_size)
    }

    /// Reads up to `length` bytes at `position`; fewer only at end of file.
    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: max(length, 0))
        guard length > 0 else { return buffer }
        var failure: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            var done = 0
            while done < length {
                let n = pread(descriptor, raw.baseAddress! + done, length - done, off_t(position) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return done
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        if failure != 0 { throw .io(operation: "pread", path: path, errno: failure) }
        return buffer
    }

    /// Writes all of `chunks` contiguously at `position` with pwritev, looping over short writes.
    func write(_ chunks: [ByteBuffer], at position: Int64) throws(StorageError) {
        CallerIOProbe.shared.record()
        let code = Self.pwriteAll(descriptor: descriptor, chunks: chunks, at: position)
        if code != 0 { throw .io(operation: "pwrite", path: path, errno: code) }
    }

    /// Writes `chunks` contiguously at `position` with as few `pwritev` calls as possible (one, unless the
    /// kernel writes short or there are more than IOV_MAX chunks); returns 0 or the errno. Used by the engines.
    static func pwriteAll(descriptor: Int32, chunks: [ByteBuffer], at position: Int64) -> Int32 {
        let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: max(chunks.count, 1))
        defer { vectors.deallocate() }
        var count = 0
        for chunk in chunks where chunk.readableBytes > 0 {
            // `chunks` keeps every buffer's storage alive (and unmodified) until this function returns.
            let base = chunk.withUnsafeReadableBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
            vectors[count] = iovec(iov_base: base, iov_len: chunk.readableBytes)
            count += 1
        }
        var first = 0
        var offset = off_t(position)
        while first < count {
            let n = pwritev(descriptor, vectors.baseAddress! + first, Int32(min(count - first, WriteRun.maxChunks)), offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            offset += off_t(n)
            var written = n
            while first < count && written >= vectors[first].iov_len {
                written -= vectors[first].iov_len
                first += 1
            }
            if written > 0 {
                vectors[first].iov_base = vectors[first].iov_base.map { $0 + written }
                vectors[first].iov_len -= written
            }
        }
        return 0
    }

    /// Shrinks (or extends) the file to `size` bytes.
    func truncate(to size: Int64) throws(StorageError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            throw .io(operation: "ftruncate", path: path, errno: errno)
        }
    }

    /// fdatasync: the file's data (and the size) reach stable storage.
    func sync() throws(StorageError) {
        CallerIOProbe.shared.record()
        guard fdatasync(descriptor) == 0 else { throw .io(operation: "fdatasync", path: path, errno: errno) }
    }
}

/// Small file-system helpers (paths are plain strings; no Foundation on the hot path).
enum FileSystem {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func rename(_ from: String, to: String) throws(StorageError) {
        guard Glibc.rename(from, to) == 0 else { throw .io(operation: "rename", path: from, errno: errno) }
    }

    static func unlink(_ path: String) { _ = Glibc.unlink(path) }

    static let syncFileRangeWaitBefore: UInt32 = 1
    static let syncFileRangeWrite: UInt32 = 2
    static let syncFileRangeWaitAfter: UInt32 = 4

    /// sync_file_range(2): starts and/or waits for writeback of a range (length 0: to the end of the
    /// file). Best effort: durability still comes from fsync.
    static func syncFileRange(_ fd: Int32, offset: Int64, length: Int64, flags: UInt32) {
        _ = GlibcExtras.syncFileRange?(fd, offset, length, flags)
    }

    /// Removes a file that may be large (a segment, an index): the name goes at once, the blocks of a
    /// large file are given back in paced chunks by `FileReclaimer.shared` so that freeing (and, on a
    /// `discard` mount, discarding) a gigabyte does not stall every fsync of the disk.
    static func reclaim(_ path: String) { FileReclaimer.shared.remove(path) }

    static func makeDirectory(_ path: String) throws(StorageError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw .io(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// fsyncs a directory so renames and creations inside it are durable.
    static func syncDirectory(_ path: String) {
        CallerIOProbe.shared.record()
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Names of the entries in a directory (no "." or "..").
    static func list(_ path: String) throws(StorageError) -> [String] {
        guard let dir = opendir(path) else { throw .io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Size of a regular file, without opening it.
    static func fileSize(_ path: String) throws(StorageError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(operation: "stat (not a regular file)", path: path, errno: EISDIR) }
        return Int64(info.st_size)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Removes a directory tree (files one level deep, as partition directories are).
    static func removeTree(_ path: String) {
        if let names = try? list(path) {
            for name in names {
                let child = path + "/" + name
                if isDirectory(child) { removeTree(child) } else { reclaim(child) }
            }
        }
        _ = rmdir(path)
    }

    /// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, directory fsync.
    static func writeAtomically(_ path: String, bytes: ByteBuffer, directory: String) throws(StorageError) {
        let temporary = path + ".tmp"
        let handle = try LogFileHandle.open(temporary, create: true)
        try handle.truncate(to: 0)
        try handle.write([bytes], at: 0)
        try handle.sync()
        try rename(temporary, to: path)
        syncDirectory(directory)
    }

    /// Reads a whole small file, or nil when it does not exist.
    static func readAll(_ path: String) throws(StorageError) -> ByteBuffer? {
        guard exists(path) else { return nil }
        let handle = try LogFileHandle.open(path, create: false)
        let size = try handle.size()
        return try handle.read(at: 0, length: Int(size))
    }
}
