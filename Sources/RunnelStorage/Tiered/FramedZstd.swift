// FramedZstd: a segment compressed at rest so that any byte range can be read without decompressing
// the whole segment. The `.log` contents are cut into frames of `frameSize` bytes (the last one
// shorter), each compressed on its own as one zstd frame and stored back to back in `<base>.log.zst`;
// `<base>.log.zst.frames` lists where each compressed frame starts and how long it is. A read of
// [position, position + length) decompresses only the frames it overlaps (docs/storage.md, "Remote tier").
//
// `.frames` file, big-endian: magic "RNZF" (UInt32), version Int16 = 1, frame size Int32, uncompressed
// size Int64, frame count Int32, then per frame compressed position Int64 and compressed length Int32,
// then CRC-32C (UInt32) of every byte before it.
import CZstd
import KafkaRecords
import NIOCore
import Synchronization

/// The frame index of a segment compressed at rest.
struct ZstdFrameTable: Sendable, Equatable {
    static let magic: UInt32 = 0x524E_5A46
    static let version: Int16 = 1
    static let headerSize = 4 + 2 + 4 + 8 + 4
    static let entrySize = 12
    /// Uncompressed bytes per frame (the last frame may be shorter).
    var frameSize: Int
    /// Uncompressed size of the segment.
    var logSize: Int64
    /// Compressed position and length of each frame in the `.log.zst` file.
    var frames: [(position: Int64, length: Int32)]

    static func == (lhs: ZstdFrameTable, rhs: ZstdFrameTable) -> Bool {
        lhs.frameSize == rhs.frameSize && lhs.logSize == rhs.logSize && lhs.frames.count == rhs.frames.count
            && zip(lhs.frames, rhs.frames).allSatisfy { $0.position == $1.position && $0.length == $1.length }
    }

    /// Bytes of the compressed file.
    var compressedSize: Int64 { frames.last.map { $0.position + Int64($0.length) } ?? 0 }

    func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: Self.headerSize + frames.count * Self.entrySize + 4)
        buffer.writeInteger(Self.magic)
        buffer.writeInteger(Self.version)
        buffer.writeInteger(Int32(frameSize))
        buffer.writeInteger(logSize)
        buffer.writeInteger(Int32(frames.count))
        for frame in frames {
            buffer.writeInteger(frame.position)
            buffer.writeInteger(frame.length)
        }
        let crc = CRC32C.checksum(of: buffer, at: buffer.readerIndex, length: buffer.readableBytes) ?? 0
        buffer.writeInteger(crc)
        return buffer
    }

    /// Parses and checks a `.frames` file (magic, version, CRC, frames covering exactly the log size).
    static func decode(_ buffer: ByteBuffer, path: String) throws(StorageError) -> ZstdFrameTable {
        func corrupt(_ reason: String) -> StorageError { .corruptMessage("frame index \(path): \(reason)") }
        let start = buffer.readerIndex
        guard buffer.readableBytes >= headerSize + 4,
              buffer.getInteger(at: start, as: UInt32.self) == magic else { throw corrupt("not a frame index") }
        guard buffer.getInteger(at: start + 4, as: Int16.self) == version else { throw corrupt("unknown version") }
        let body = buffer.readableBytes - 4
        guard let stored = buffer.getInteger(at: start + body, as: UInt32.self),
              CRC32C.checksum(of: buffer, at: start, length: body) == stored else { throw corrupt("CRC mismatch") }
        guard let frameSize = buffer.getInteger(at: start + 6, as: Int32.self), frameSize > 0,
              let logSize = buffer.getInteger(at: start + 10, as: Int64.self), logSize >= 0,
              let count = buffer.getInteger(at: start + 18, as: Int32.self), count >= 0,
              headerSize + Int(count) * entrySize == body else { throw corrupt("bad header") }
        var frames: [(position: Int64, length: Int32)] = []
        frames.reserveCapacity(Int(count))
        var index = start + headerSize
        for _ in 0..<Int(count) {
            guard let position = buffer.getInteger(at: index, as: Int64.self),
                  let length = buffer.getInteger(at: index + 8, as: Int32.self), position >= 0, length > 0 else {
                throw corrupt("bad frame entry")
            }
            frames.append((position, length))
            index += entrySize
        }
        let expected = (logSize + Int64(frameSize) - 1) / Int64(frameSize)
        guard Int64(frames.count) == expected else { throw corrupt("\(frames.count) frames for \(logSize) bytes") }
        return ZstdFrameTable(frameSize: Int(frameSize), logSize: logSize, frames: frames)
    }

    /// Uncompressed length of frame `index`.
    func uncompressedLength(of index: Int) -> Int {
        Int(min(Int64(frameSize), logSize - Int64(index) * Int64(frameSize)))
    }
}

enum FramedZstd {
    /// Frame size used when compressing (the reader honours whatever the frame index says).
    static let defaultFrameSize = 1 << 20
    /// Level 1: on the bench's records (random hex) level 3 finds chance 4–5 byte matches that halve the
    /// decompression speed (0.9 → 1.8 GB/s per core at level 1, `zstd -b`) and compress worse; on JSON
    /// records level 1 decompresses as fast and compresses as well (docs/benchmarks.md, 2026-12-04).
    static let level: Int32 = 1

    /// Compresses `source` [0, size) into `destination` frame by frame; returns the frame table. Writes
    /// only; the caller fsyncs.
    static func compress(source: LogFileHandle, size: Int64, into destination: LogFileHandle,
                         frameSize: Int = defaultFrameSize, throttle: IOThrottle? = nil) throws(StorageError) -> ZstdFrameTable {
        var table = ZstdFrameTable(frameSize: frameSize, logSize: size, frames: [])
        var output = ByteBufferAllocator().buffer(capacity: ZSTD_compressBound(frameSize))
        var position: Int64 = 0
        var written: Int64 = 0
        while position < size {
            let input = try source.read(at: position, length: Int(min(Int64(frameSize), size - position)))
            guard input.readableBytes > 0 else { throw .io(operation: "read (segment shrank while compressing)", path: source.path, errno: StorageError.eio) }
            throttle?.charge(input.readableBytes)
            output.clear()
            var failure: String?
            _ = input.withUnsafeReadableBytes { raw in
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: ZSTD_compressBound(raw.count)) { out in
                    let result = ZSTD_compress(out.baseAddress, out.count, raw.baseAddress, raw.count, level)
                    if ZSTD_isError(result) != 0 {
                        failure = String(cString: ZSTD_getErrorName(result))
                        return 0
                    }
                    return result
                }
            }
            if let failure { throw .io(operation: "zstd compress (\(failure))", path: source.path, errno: StorageError.eio) }
            try destination.write([output], at: written)
            table.frames.append((written, Int32(output.readableBytes)))
            written += Int64(output.readableBytes)
            position += Int64(input.readableBytes)
        }
        return table
    }

    /// Decompresses one frame (its uncompressed length is known from the table) with a pooled context.
    static func decompress(_ compressed: ByteBuffer, length: Int, path: String) throws(StorageError) -> ByteBuffer {
        var output = ByteBufferAllocator().buffer(capacity: max(length, 1))
        var status = 0
        let context = ZstdDecompressionContexts.take()
        _ = compressed.withUnsafeReadableBytes { raw in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
                if let context {
                    status = ZSTD_decompressDCtx(context.pointer, out.baseAddress, length, raw.baseAddress, raw.count)
                } else {
                    status = ZSTD_decompress(out.baseAddress, length, raw.baseAddress, raw.count)
                }
                return ZSTD_isError(status) != 0 ? 0 : status
            }
        }
        if let context { ZstdDecompressionContexts.give(context) }
        guard ZSTD_isError(status) == 0, status == length else {
            let reason = ZSTD_isError(status) != 0 ? String(cString: ZSTD_getErrorName(status)) : "\(status) bytes, expected \(length)"
            throw .corruptMessage("zstd frame in \(path): \(reason)")
        }
        return output
    }
}

/// A zstd decompression context (about 100 KiB of tables), reused across frames instead of one per frame.
final class ZstdDecompressionContext: @unchecked Sendable {  // used by one thread at a time (taken from the pool)
    let pointer: OpaquePointer

    init?() {
        guard let pointer = ZSTD_createDCtx() else { return nil }
        self.pointer = pointer
    }

    deinit { ZSTD_freeDCtx(pointer) }
}

/// The process's idle decompression contexts (at most `keep`; more are freed when given back).
enum ZstdDecompressionContexts {
    static let keep = 8
    private static let idle = Mutex<[ZstdDecompressionContext]>([])

    static func take() -> ZstdDecompressionContext? { idle.withLock { $0.popLast() } ?? ZstdDecompressionContext() }

    static func give(_ context: ZstdDecompressionContext) {
        idle.withLock { if $0.count < keep { $0.append(context) } }
    }
}

/// Reads a segment compressed at rest: only the frames a read overlaps are decompressed, and kept in the
/// process's `DecompressedFrameCache`, so a consumer reading on decompresses each frame once. Answers are
/// slices of the cached frames (no copy); `readAhead` queues the frames of the next answer.
final class ZstdFramedSegmentBytes: SegmentBytes {
    /// Most frames one read-ahead queues.
    static let maxReadAheadFrames = 16
    let file: LogFileHandle
    let table: ZstdFrameTable
    let cache: DecompressedFrameCache
    let id = DecompressedFrameCache.segmentID()

    init(file: LogFileHandle, table: ZstdFrameTable, cache: DecompressedFrameCache = .shared) {
        self.file = file
        self.table = table
        self.cache = cache
    }

    deinit { cache.remove(segment: id) }

    private func decompressFrame(_ index: Int) throws(StorageError) -> ByteBuffer {
        let entry = table.frames[index]
        let compressed = try file.read(at: entry.position, length: Int(entry.length))
        guard compressed.readableBytes == Int(entry.length) else {
            throw .corruptMessage("\(file.path): frame \(index) is cut short")
        }
        return try FramedZstd.decompress(compressed, length: table.uncompressedLength(of: index), path: file.path)
    }

    func frame(_ index: Int) throws(StorageError) -> ByteBuffer {
        let key = DecompressedFrameCache.Key(segment: id, frame: index)
        switch cache.lookup(key) {
        case .ready(let bytes):
            return bytes
        case .pending(let pending):
            if pending.claim() {
                // Read-ahead has not reached it: decompress it here (a failure frees its place and is thrown).
                do {
                    let bytes = try decompressFrame(index)
                    cache.complete(key, pending, with: bytes)
                    return bytes
                } catch {
                    cache.complete(key, pending, with: nil)
                    throw error
                }
            }
            pending.done.wait()
            if case .ready(let bytes) = cache.lookup(key) { return bytes }
        case .absent:
            break
        }
        let bytes = try decompressFrame(index)  // a failed read-ahead is retried here, so its error is this read's
        cache.insert(key, bytes)
        return bytes
    }

    /// Decompresses frame `index` here if it is queued for read-ahead and nobody has started it (a failure
    /// frees its place: the read that needs it retries and throws).
    private func help(_ index: Int) {
        let key = DecompressedFrameCache.Key(segment: id, frame: index)
        if case .pending(let pending) = cache.lookup(key), pending.claim() {
            cache.complete(key, pending, with: try? decompressFrame(index))
        }
    }

    /// The frames [first, last] overlapping [position, end), clamped to the segment; nil when empty.
    private func frames(at position: Int64, length: Int) -> (first: Int, last: Int, end: Int64)? {
        let end = min(position + Int64(max(length, 0)), table.logSize)
        guard position >= 0, position < end else { return nil }
        let frameSize = Int64(table.frameSize)
        return (Int(position / frameSize), Int((end - 1) / frameSize), end)
    }

    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer] {
        guard let (first, last, end) = frames(at: position, length: length) else { return [] }
        let frameSize = Int64(table.frameSize)
        // Frames of this answer still queued for read-ahead: decompress them here, from the last one back,
        // while the helper works from the first, instead of waiting for it (the two cores share the work).
        for index in stride(from: last, to: first, by: -1) { help(index) }
        var parts: [ByteBuffer] = []
        parts.reserveCapacity(last - first + 1)
        for index in first...last {
            let bytes = try frame(index)
            let frameStart = Int64(index) * frameSize
            let from = Int(max(position, frameStart) - frameStart)
            let to = Int(min(end, frameStart + Int64(bytes.readableBytes)) - frameStart)
            guard to > from, let part = bytes.getSlice(at: bytes.readerIndex + from, length: to - from) else { break }
            parts.append(part)
        }
        return parts
    }

    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer {
        var parts = try readBuffers(at: position, length: length)
        if parts.count <= 1 { return parts.first ?? ByteBuffer() }
        var out = ByteBufferAllocator().buffer(capacity: parts.reduce(0) { $0 + $1.readableBytes })
        for index in parts.indices { out.writeBuffer(&parts[index]) }
        return out
    }

    func readAhead(at position: Int64, length: Int) {
        guard let (first, last, _) = frames(at: position, length: length) else { return }
        var queued: [(index: Int, pending: DecompressedFrameCache.Pending)] = []
        for index in first...min(last, first + Self.maxReadAheadFrames - 1) {
            let key = DecompressedFrameCache.Key(segment: id, frame: index)
            if case .absent = cache.lookup(key) {
                guard let pending = cache.reserve(key, bytes: table.uncompressedLength(of: index)) else { break }
                queued.append((index, pending))
            }
        }
        guard !queued.isEmpty else { return }
        DecompressedFrameCache.readAheadQueue.async { [self, queued] in
            for (index, _) in queued { help(index) }
        }
    }
}

/// Reading a segment compressed at rest as a whole (`runnel log dump`).
public enum CompressedSegmentFile {
    /// True for the data file of a segment compressed at rest (`<base>.log.zst`).
    public static func isCompressed(_ path: String) -> Bool { path.hasSuffix(".log.zst") }

    /// The `.log` contents of `<base>.log.zst`, decompressed frame by frame with its `.frames` index.
    public static func readLog(atPath path: String) throws(StorageError) -> ByteBuffer {
        guard let frames = try FileSystem.readAll(path + ".frames") else {
            throw .io(operation: "open frame index", path: path + ".frames", errno: 2)
        }
        let table = try ZstdFrameTable.decode(frames, path: path + ".frames")
        let bytes = ZstdFramedSegmentBytes(file: try LogFileHandle.open(path, create: false), table: table,
                                           cache: DecompressedFrameCache(capacity: 0))
        return try bytes.read(at: 0, length: Int(table.logSize))
    }
}
