// RemoteSegmentStore: the remote tier behind one protocol (KIP-405's RemoteStorageManager, reduced to
// what a partition log needs). Closed segments leave the log dir for the store once they fall out of the
// hot set (local.retention.ms / local.retention.bytes); the log then serves Fetch, ListOffsets and
// read_committed from the store's readers. The only implementation today keeps segments in a second
// directory (`LocalDirectoryRemoteStore`, `remote.log.dir`); docs/decisions/0014 describes one for
// S3-compatible object stores.
import NIOCore

/// Something segment bytes can be read from at a logical position: a segment file, or a remote
/// segment (decompressed on the fly when compressed at rest).
protocol SegmentBytes: Sendable {
    /// Reads up to `length` bytes at logical `position`; fewer only at the end.
    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer
    /// The same bytes as `read`, possibly as several buffers (a compressed segment's frames, not copied).
    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer]
    /// A hint that [position, position + length) is read next (a compressed segment decompresses it ahead).
    func readAhead(at position: Int64, length: Int)
}

extension SegmentBytes {
    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer] {
        [try read(at: position, length: length)]
    }

    func readAhead(at position: Int64, length: Int) {}
}

extension LogFileHandle: SegmentBytes {}

/// How segments are stored in the remote tier (`runnel.segment.compression.at.rest`).
public enum SegmentCompressionAtRest: String, Sendable, CaseIterable {
    /// Byte-for-byte copies of the `.log` files (served with sendfile, like hot segments).
    case none
    /// Independently compressed zstd frames with a frame index (docs/storage.md, "Remote tier").
    case zstd
}

/// What the store knows about one published remote segment (its manifest).
public struct RemoteSegmentMetadata: Sendable, Equatable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// First offset of the segment (its file name).
    public var baseOffset: Int64
    /// One past the last offset in the segment.
    public var endOffset: Int64
    /// Bytes of the `.log` file (uncompressed, the positions the indexes name).
    public var size: Int64
    /// Largest batch max timestamp in the segment, -1 when none.
    public var maxTimestamp: Int64
    /// The offset that carries `maxTimestamp`.
    public var offsetOfMaxTimestamp: Int64
    /// How the segment is stored.
    public var compression: SegmentCompressionAtRest
    /// Bytes the segment occupies in the store (all of its objects).
    public var storedBytes: Int64

    /// Metadata with every field given.
    public init(topic: String, partition: Int32, baseOffset: Int64, endOffset: Int64, size: Int64, maxTimestamp: Int64,
                offsetOfMaxTimestamp: Int64, compression: SegmentCompressionAtRest, storedBytes: Int64 = 0) {
        self.topic = topic
        self.partition = partition
        self.baseOffset = baseOffset
        self.endOffset = endOffset
        self.size = size
        self.maxTimestamp = maxTimestamp
        self.offsetOfMaxTimestamp = offsetOfMaxTimestamp
        self.compression = compression
        self.storedBytes = storedBytes
    }
}

/// The local files of a closed segment handed to `RemoteSegmentStore.copy`.
public struct LocalSegmentFiles: Sendable {
    /// The `.log` file.
    public var log: String
    /// The `.index` file.
    public var offsetIndex: String
    /// The `.timeindex` file.
    public var timeIndex: String
    /// The `.txnindex` file (it may not exist).
    public var transactionIndex: String
}

/// The per-segment indexes a store keeps next to the data (fetched once per segment, kept in memory).
public enum RemoteIndexKind: String, Sendable, CaseIterable {
    case offset = ".index"
    case time = ".timeindex"
    case transaction = ".txnindex"
}

/// One remote segment opened for reading.
public protocol RemoteSegmentReader: Sendable {
    /// The segment.
    var metadata: RemoteSegmentMetadata { get }
    /// Reads up to `length` bytes of the `.log` contents at `position` (fewer only at the end).
    func read(at position: Int64, length: Int) throws(StorageError) -> ByteBuffer
    /// The same bytes as `read`, possibly as several buffers (not copied into one).
    func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer]
    /// A hint that [position, position + length) of the `.log` contents is read next (read-ahead).
    func readAhead(at position: Int64, length: Int)
    /// The `.log` file itself when the store holds it uncompressed on a local file system: reads are then
    /// served as file slices (sendfile), exactly like hot segments. Nil otherwise.
    var zeroCopyFile: LogFileHandle? { get }
    /// The bytes of one of the segment's index files (nil when the segment has none of that kind).
    func index(_ kind: RemoteIndexKind) throws(StorageError) -> ByteBuffer?
}

extension RemoteSegmentReader {
    public func readBuffers(at position: Int64, length: Int) throws(StorageError) -> [ByteBuffer] {
        [try read(at: position, length: length)]
    }

    public func readAhead(at position: Int64, length: Int) {}
}

/// The remote tier. Implementations must make `copy` crash-safe: a segment is either published whole
/// (data and indexes durable, then the manifest) or absent from `list`; `delete` unpublishes first.
/// Calls come from the storage scheduler thread (copy, delete) and from readers (open); never from an
/// event loop's hot path except `open`, which must not do I/O beyond opening a handle.
public protocol RemoteSegmentStore: Sendable {
    /// Copies a closed segment, makes it durable, then publishes it. When this returns, the segment is in
    /// `list` after any crash; when it throws, it is not.
    func copy(_ files: LocalSegmentFiles, metadata: RemoteSegmentMetadata) throws(StorageError) -> RemoteSegmentMetadata
    /// The published segments of a partition, by base offset. Leftovers of an interrupted copy or delete
    /// (objects without a manifest) are removed.
    func list(topic: String, partition: Int32) throws(StorageError) -> [RemoteSegmentMetadata]
    /// Opens a published segment for reading.
    func open(_ metadata: RemoteSegmentMetadata) throws(StorageError) -> any RemoteSegmentReader
    /// Unpublishes, then removes a segment.
    func delete(_ metadata: RemoteSegmentMetadata) throws(StorageError)
    /// Removes every segment of a partition (topic deletion).
    func deletePartition(topic: String, partition: Int32)
}

/// Crash points of the copy–publish–delete sequence (tests inject a crash at each).
public enum TieringStep: Sendable, Equatable {
    /// The data and indexes are in the store and durable; the manifest is not written.
    case copied
    /// The manifest is published; the local segment is still in place.
    case published
}
