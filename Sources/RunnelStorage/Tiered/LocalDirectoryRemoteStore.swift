// LocalDirectoryRemoteStore: the remote tier in a second directory (`remote.log.dir`, e.g. a big slow
// disk), laid out like a log dir (docs/storage.md, "Remote tier"):
//
//   <remote.log.dir>/<topic>-<partition>/
//     <base>.log                 the segment as it was (compression none), or
//     <base>.log.zst             independently compressed zstd frames (compression zstd)
//     <base>.log.zst.frames      their frame index
//     <base>.index / .timeindex / .txnindex   copied as they were
//     <base>.segment             the manifest: written last, its presence publishes the segment
//
// Copy: every file is written as `<name>.tmp`, fdatasynced, renamed; then the manifest the same way and
// the directory fsynced (publish). Delete: the manifest goes first (unpublish), then the rest. At listing
// time, files whose base has no manifest are the leftovers of an interrupted copy or delete and are removed.
import Foundation
import KafkaProtocol
import NIOCore

/// The remote tier in a local directory.
public final class LocalDirectoryRemoteStore: RemoteSegmentStore {
    /// The directory (`remote.log.dir`).
    public let root: String
    /// How new segments are stored (existing ones keep the way their manifest names).
    public let compression: SegmentCompressionAtRest
    let frameSize: Int
    /// Copies of uncompressed segments are written with O_DIRECT (the directory's file system is disk-backed
    /// and takes aligned direct writes), as the cleaner writes cleaned segments: a copy through the page
    /// cache ties every acks=all produce's fdatasync on the same disk to its writeback (docs/storage.md).
    let directWrites: Bool
    /// Paces the copies (`remote.log.manager.copy.max.bytes.per.second`): the process's, unless a test passes its own.
    let throttle: IOThrottle

    /// A store rooted at `root` (created when missing).
    public convenience init(root: String, compression: SegmentCompressionAtRest, frameSize: Int = 1 << 20) throws(StorageError) {
        try self.init(root: root, compression: compression, frameSize: frameSize, throttle: .remoteCopy)
    }

    init(root: String, compression: SegmentCompressionAtRest, frameSize: Int = 1 << 20, throttle: IOThrottle) throws(StorageError) {
        self.root = root
        self.compression = compression
        self.frameSize = max(frameSize, 4096)
        self.throttle = throttle
        try FileSystem.makeDirectory(root)
        directWrites = DirectIO.resolve(.auto, path: root).direct
    }

    func directory(_ topic: String, _ partition: Int32) -> String {
        root + "/" + TopicPartition(topic: topic, partition: partition).description
    }

    func stem(_ metadata: RemoteSegmentMetadata) -> String {
        directory(metadata.topic, metadata.partition) + "/" + LogSegment.fileName(metadata.baseOffset, "")
    }

    public func copy(_ files: LocalSegmentFiles, metadata: RemoteSegmentMetadata) throws(StorageError) -> RemoteSegmentMetadata {
        try copy(files, metadata: metadata, publish: true)
    }

    /// `publish: false` stops after the data and indexes are durable (the crash tests' first step).
    func copy(_ files: LocalSegmentFiles, metadata: RemoteSegmentMetadata, publish: Bool) throws(StorageError) -> RemoteSegmentMetadata {
        let dir = directory(metadata.topic, metadata.partition)
        try FileSystem.makeDirectory(dir)
        FileSystem.syncDirectory(root)
        let stem = stem(metadata)
        var published = metadata
        published.compression = compression
        var stored: Int64 = 0
        let source = try LogFileHandle.open(files.log, create: false)
        // Read 1 MiB at a time, one read in flight: no kernel readahead queueing megabytes ahead of the producers' writes.
        source.disableReadahead()
        switch compression {
        case .none:
            stored += try Self.copyFile(source, length: metadata.size, to: stem + ".log", direct: directWrites, throttle: throttle)
        case .zstd:
            let target = try Self.freshFile(stem + ".log.zst")
            let table = try FramedZstd.compress(source: source, size: metadata.size, into: target, frameSize: frameSize,
                                                throttle: throttle)
            try target.sync()
            try FileSystem.rename(target.path, to: stem + ".log.zst")
            let frames = table.encoded()
            let framesFile = try Self.freshFile(stem + ".log.zst.frames")
            try framesFile.write([frames], at: 0)
            try framesFile.sync()
            try FileSystem.rename(framesFile.path, to: stem + ".log.zst.frames")
            stored += table.compressedSize + Int64(frames.readableBytes)
        }
        for (path, kind) in [(files.offsetIndex, RemoteIndexKind.offset), (files.timeIndex, .time), (files.transactionIndex, .transaction)]
        where FileSystem.exists(path) {
            let handle = try LogFileHandle.open(path, create: false)
            stored += try Self.copyFile(handle, length: try handle.size(), to: stem + kind.rawValue)
        }
        published.storedBytes = stored
        FileSystem.syncDirectory(dir)
        guard publish else { return published }
        try FileSystem.writeAtomically(stem + ".segment", bytes: Self.manifest(published), directory: dir)
        return published
    }

    public func list(topic: String, partition: Int32) throws(StorageError) -> [RemoteSegmentMetadata] {
        let dir = directory(topic, partition)
        guard FileSystem.isDirectory(dir) else { return [] }
        let names = try FileSystem.list(dir)
        var found: [RemoteSegmentMetadata] = []
        var publishedBases: Set<String> = []
        for name in names where name.hasSuffix(".segment") {
            guard let bytes = try FileSystem.readAll(dir + "/" + name),
                  let metadata = Self.parseManifest(bytes, topic: topic, partition: partition),
                  LogSegment.fileName(metadata.baseOffset, ".segment") == name else {
                // An unreadable manifest publishes nothing: the segment's files go with the leftovers.
                FileSystem.unlink(dir + "/" + name)
                continue
            }
            found.append(metadata)
            publishedBases.insert(String(name.dropLast(".segment".count)))
        }
        for name in names where !name.hasSuffix(".segment") {
            let base = String(name.prefix(20))
            if name.hasSuffix(".tmp") || !publishedBases.contains(base) { FileSystem.unlink(dir + "/" + name) }
        }
        return found.sorted { $0.baseOffset < $1.baseOffset }
    }

    public func open(_ metadata: RemoteSegmentMetadata) throws(StorageError) -> any RemoteSegmentReader {
        let stem = stem(metadata)
        switch metadata.compression {
        case .none:
            let file = try LogFileHandle.open(stem + ".log", create: false)
            return DirectoryRemoteSegmentReader(metadata: metadata, stem: stem, bytes: file, zeroCopyFile: file)
        case .zstd:
            let file = try LogFileHandle.open(stem + ".log.zst", create: false)
            guard let frames = try FileSystem.readAll(stem + ".log.zst.frames") else {
                throw .io(operation: "open frame index", path: stem + ".log.zst.frames", errno: 2)
            }
            let table = try ZstdFrameTable.decode(frames, path: stem + ".log.zst.frames")
            guard table.logSize == metadata.size else {
                throw .corruptMessage("\(stem).log.zst.frames: \(table.logSize) bytes, the manifest says \(metadata.size)")
            }
            return DirectoryRemoteSegmentReader(metadata: metadata, stem: stem, bytes: ZstdFramedSegmentBytes(file: file, table: table),
                                                zeroCopyFile: nil)
        }
    }

    public func delete(_ metadata: RemoteSegmentMetadata) throws(StorageError) {
        let stem = stem(metadata)
        let dir = directory(metadata.topic, metadata.partition)
        FileSystem.unlink(stem + ".segment")
        FileSystem.syncDirectory(dir)
        // Reclaimed in chunks (a file a fetch still reads stays whole until that fetch closes it).
        for suffix in [".log", ".log.zst", ".log.zst.frames"] + RemoteIndexKind.allCases.map(\.rawValue) {
            FileSystem.reclaim(stem + suffix)
        }
    }

    public func deletePartition(topic: String, partition: Int32) {
        FileSystem.removeTree(directory(topic, partition))
        FileSystem.syncDirectory(root)
    }

    // MARK: Files

    private static func freshFile(_ path: String) throws(StorageError) -> LogFileHandle {
        let handle = try LogFileHandle.open(path + ".tmp", create: true)
        try handle.truncate(to: 0)
        return handle
    }

    /// Copies [0, length) of `source` to `path` (through `<path>.tmp`, fdatasynced, renamed), with O_DIRECT
    /// writes when `direct`, 1 MiB at a time, each charged to `throttle`. Returns the bytes.
    private static func copyFile(_ source: LogFileHandle, length: Int64, to path: String, direct: Bool = false,
                                 throttle: IOThrottle? = nil) throws(StorageError) -> Int64 {
        var target = try SequentialFileWriter(path: path + ".tmp", direct: direct, expectedBytes: length)
        while target.position < length {
            let chunk = try source.read(at: target.position, length: Int(min(Int64(1 << 20), length - target.position)))
            guard chunk.readableBytes > 0 else { throw .io(operation: "read (file shrank while copying)", path: source.path, errno: StorageError.eio) }
            throttle?.charge(chunk.readableBytes)
            try target.append(chunk)
            // The local copy is deleted once this one is published: its pages go now, a chunk at a time.
            source.dropCache(from: target.position - Int64(chunk.readableBytes), to: target.position)
        }
        _ = try target.finish()
        try FileSystem.rename(target.path, to: path)
        return length
    }

    // MARK: Manifest ("key: value" lines, like partition.metadata)

    static func manifest(_ m: RemoteSegmentMetadata) -> ByteBuffer {
        ByteBuffer(string: """
            version: 1
            base_offset: \(m.baseOffset)
            end_offset: \(m.endOffset)
            size: \(m.size)
            max_timestamp: \(m.maxTimestamp)
            offset_of_max_timestamp: \(m.offsetOfMaxTimestamp)
            compression: \(m.compression.rawValue)
            stored_bytes: \(m.storedBytes)

            """)
    }

    static func parseManifest(_ bytes: ByteBuffer, topic: String, partition: Int32) -> RemoteSegmentMetadata? {
        var fields: [String: String] = [:]
        for line in String(buffer: bytes).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        func long(_ key: String) -> Int64? { fields[key].flatMap { Int64($0) } }
        guard fields["version"] == "1", let base = long("base_offset"), let end = long("end_offset"), end > base,
              let size = long("size"), size >= 0, let maxTimestamp = long("max_timestamp"),
              let offsetOfMax = long("offset_of_max_timestamp"),
              let compression = fields["compression"].flatMap(SegmentCompressionAtRest.init(rawValue:)) else { return nil }
        return RemoteSegmentMetadata(topic: topic, partition: partition, baseOffset: base, endOffset: end, size: size,
                                     maxTimestamp: maxTimestamp, offsetOfMaxTimestamp: offsetOfMax, compression: compression,
                                     storedBytes: long("stored_bytes") ?? 0)
    }
}

/// A segment of a `LocalDirectoryRemoteStore`.
struct DirectoryRemoteSegmentReader: RemoteSegmentReader {
    let metadata: RemoteSegmentMetadata
    let stem: String
    let bytes: any SegmentBytes
    let zeroCopyFile: LogFileHandle?

    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer {
        try bytes.read(at: position, length: min(length, Int(max(metadata.size - position, 0))))
    }

    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer] {
        try bytes.readBuffers(at: position, length: min(length, Int(max(metadata.size - position, 0))))
    }

    func readAhead(at position: Int64, length: Int) { bytes.readAhead(at: position, length: length) }

    func index(_ kind: RemoteIndexKind) throws(StorageError) -> ByteBuffer? {
        try FileSystem.readAll(stem + kind.rawValue)
    }
}
