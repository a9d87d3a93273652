// SequentialFileWriter: writes a new file front to back in one pass and makes it durable (the cleaner's
// `.cleaned` segments, segment copies to the remote tier). On a direct log dir the bytes go through one aligned buffer with O_DIRECT writes
// into a preallocated file, the zero-padded last block cut off by a final truncate, as the direct append
// path does at a roll. Through the page cache (the buffered path), a file of hundreds of megabytes costs
// a kernel copy per byte and, on ext4's ordered mode, ties every other file's fdatasync to its writeback:
// a journal commit waits for the data of every inode with blocks newly allocated in it, and delayed
// allocation allocates the cleaned file's blocks as its dirty pages are written back. A direct write into
// preallocated blocks leaves nothing for a commit to wait for but the extent conversions. Buffered dirs
// (tmpfs, `log.io.mode = buffered`) keep writing through the page cache, with `WriteBehind` bounding the
// dirty pages.
import Glibc
import NIOCore

struct SequentialFileWriter {
    let path: String
    private let file: LogFileHandle
    /// The aligned staging buffer on the direct path (nil: buffered writes).
    private let buffer: AlignedBuffer?
    /// Bytes staged in `buffer`, which starts at file position `flushed` (block-aligned).
    private var staged = 0
    private var flushed: Int64 = 0
    private var behind = WriteBehind()
    /// Bytes appended so far: the file's logical size.
    private(set) var position: Int64 = 0

    /// Bytes the direct path stages before one O_DIRECT write.
    static let directChunk = 1 << 20

    /// Creates (or empties) `path`. With `direct`, opens it with O_DIRECT and reserves `expectedBytes`
    /// (an upper bound of what will be written; best effort); a file system that refuses O_DIRECT gets
    /// buffered writes instead.
    init(path: String, direct: Bool, expectedBytes: Int64) throws(StorageError) {
        self.path = path
        let flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC
        if direct, let staging = AlignedBuffer(capacity: Self.directChunk) {
            let fd = path.withCString { Glibc.open($0, flags | DirectIO.openFlag, 0o644) }
            if fd >= 0 {
                file = LogFileHandle(descriptor: fd, path: path)
                buffer = staging
                DirectIO.preallocate(file, bytes: Int(clamping: expectedBytes))
                return
            }
        }
        let fd = path.withCString { Glibc.open($0, flags, 0o644) }
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        file = LogFileHandle(descriptor: fd, path: path)
        buffer = nil
    }

    /// Whether the bytes go out with O_DIRECT.
    var isDirect: Bool { buffer != nil }

    /// Appends `bytes` (its readable bytes) at the end of the file.
    mutating func append(_ bytes: ByteBuffer) throws(StorageError) {
        guard let buffer else {
            try file.write([bytes], at: position)
            position += Int64(bytes.readableBytes)
            behind.wrote(upTo: position, fd: file.descriptor)
            return
        }
        var view = bytes.readableBytesView[...]
        while !view.isEmpty {
            let count = min(view.count, buffer.capacity - staged)
            view.prefix(count).withUnsafeBytes { source in
                if let base = source.baseAddress { (buffer.pointer + staged).copyMemory(from: base, byteCount: count) }
            }
            staged += count
            position += Int64(count)
            view = view.dropFirst(count)
            if staged == buffer.capacity { try writeStaged(length: staged) }
        }
    }

    /// Writes what is staged (its last block zero-padded), cuts the file to its logical size and makes it
    /// durable (fdatasync). Returns the size.
    mutating func finish() throws(StorageError) -> Int64 {
        if let buffer, staged > 0 {
            let padded = Int(DirectIO.alignUp(Int64(staged)))
            memset(buffer.pointer + staged, 0, padded - staged)
            try writeStaged(length: padded)
        }
        if isDirect { try file.truncate(to: position) }
        try file.sync()
        return position
    }

    private mutating func writeStaged(length: Int) throws(StorageError) {
        guard let buffer else { return }
        CallerIOProbe.shared.record()
        let code = DirectIO.writeAll(descriptor: file.descriptor, from: buffer.pointer, length: length, at: flushed)
        if code != 0 { throw .io(operation: "pwrite (O_DIRECT)", path: path, errno: code) }
        flushed += Int64(length)
        staged = 0
    }
}
