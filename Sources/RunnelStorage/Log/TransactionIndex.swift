// TransactionIndex: a segment's `.txnindex` — one 34-byte entry per aborted transaction whose abort
// marker lies in the segment: version Int16 (0), producer id, first offset, last offset, last stable offset.
import NIOCore

/// An aborted transaction: records of `producerId` in [firstOffset, lastOffset] are to be skipped by
/// read_committed consumers (`lastOffset` is the abort marker's offset).
public struct AbortedTransaction: Sendable, Equatable, Hashable {
    /// The transactional producer.
    public var producerId: Int64
    /// First offset of the transaction's records.
    public var firstOffset: Int64
    /// Offset of the abort marker.
    public var lastOffset: Int64
    /// The last stable offset when the abort was written.
    public var lastStableOffset: Int64

    /// An entry with every field given.
    public init(producerId: Int64, firstOffset: Int64, lastOffset: Int64, lastStableOffset: Int64) {
        self.producerId = producerId
        self.firstOffset = firstOffset
        self.lastOffset = lastOffset
        self.lastStableOffset = lastStableOffset
    }
}

/// The aborted transactions of one segment. Used only under its partition's lock.
final class TransactionIndex {
    static let entrySize = 34
    let path: String
    private(set) var entries: [AbortedTransaction] = []

    init(path: String) { self.path = path }

    /// Loads the file if it exists; false when it is inconsistent (the caller may rebuild).
    func load() throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else {
            entries = []
            return true
        }
        guard let loaded = Self.parse(buffer) else { return false }
        entries = loaded
        return buffer.readableBytes % Self.entrySize == 0
    }

    /// The whole entries of `.txnindex` bytes; nil at an entry of an unknown version.
    static func parse(_ buffer: ByteBuffer) -> [AbortedTransaction]? {
        var loaded: [AbortedTransaction] = []
        var index = buffer.readerIndex
        while index + Self.entrySize <= buffer.writerIndex {
            guard buffer.getInteger(at: index, as: Int16.self) == 0,
                  let pid = buffer.getInteger(at: index + 2, as: Int64.self),
                  let first = buffer.getInteger(at: index + 10, as: Int64.self),
                  let last = buffer.getInteger(at: index + 18, as: Int64.self),
                  let lso = buffer.getInteger(at: index + 26, as: Int64.self) else { return nil }
            loaded.append(AbortedTransaction(producerId: pid, firstOffset: first, lastOffset: last, lastStableOffset: lso))
            index += Self.entrySize
        }
        return loaded
    }

    /// Adds an entry in memory and returns its file bytes, for the I/O engine (the append path: the
    /// file is created on the first abort, nothing is written on the appending thread).
    func appendBehind(_ entry: AbortedTransaction) -> IndexWrite {
        var bytes = ByteBufferAllocator().buffer(capacity: Self.entrySize)
        bytes.writeInteger(Int16(0))
        bytes.writeInteger(entry.producerId)
        bytes.writeInteger(entry.firstOffset)
        bytes.writeInteger(entry.lastOffset)
        bytes.writeInteger(entry.lastStableOffset)
        let write = IndexWrite(path: path, position: Int64(entries.count * Self.entrySize), bytes: bytes)
        entries.append(entry)
        return write
    }

    /// Appends an entry and writes it now (recovery, compaction).
    func append(_ entry: AbortedTransaction, cache: FileHandleCache) throws(StorageError) {
        let write = appendBehind(entry)
        try cache.handle(path, create: true).write([write.bytes], at: write.position)
    }

    /// Drops entries whose abort marker is at or after `offset`.
    func truncate(fromOffset offset: Int64) throws(StorageError) {
        guard let keep = entries.firstIndex(where: { $0.lastOffset >= offset }) else { return }
        entries.removeSubrange(keep...)
        if FileSystem.exists(path) {
            let file = try LogFileHandle.open(path, create: false)
            try file.truncate(to: Int64(entries.count * Self.entrySize))
        }
    }

    /// Replaces the contents (recovery, compaction).
    func replace(with newEntries: [AbortedTransaction], cache: FileHandleCache) throws(StorageError) {
        cache.evict(path)
        removeFile()
        entries = []
        for entry in newEntries { try append(entry, cache: cache) }
    }

    /// Aborted transactions overlapping [from, to).
    func overlapping(from: Int64, to: Int64) -> [AbortedTransaction] {
        entries.filter { $0.lastOffset >= from && $0.firstOffset < to }
    }

    func removeFile() { FileSystem.unlink(path) }
}
