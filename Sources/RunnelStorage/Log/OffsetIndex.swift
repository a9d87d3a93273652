// OffsetIndex: a segment's sparse `.index` file — entries of (offset − base offset: Int32,
// file position: Int32), big-endian, 8 bytes each, ascending — kept in memory once loaded. New entries
// are written behind, several per pwrite (the file is complete once the segment rolls or is flushed; an
// unclean stop rebuilds the index of the segments it recovers anyway).
import NIOCore

/// Maps offsets to file positions for one segment. Used only under its partition's lock.
final class OffsetIndex {
    struct Entry: Equatable {
        var offset: Int64
        var position: Int64
    }

    static let entrySize = 8
    let path: String
    let baseOffset: Int64
    var maxEntries: Int
    private(set) var entries: [Entry] = []
    /// Entries already in the file; the rest are written by `persist`.
    private var persisted = 0
    /// Entries gathered before they are written together.
    static let writeBehind = 256

    init(path: String, baseOffset: Int64, maxIndexBytes: Int) {
        self.path = path
        self.baseOffset = baseOffset
        maxEntries = max(maxIndexBytes / Self.entrySize, 1)
    }

    var isFull: Bool { entries.count >= maxEntries }
    var lastEntry: Entry? { entries.last }

    /// Loads the file; returns false when it is missing or inconsistent (not a multiple of 8, not ascending,
    /// or pointing past `logSize`), in which case the caller rebuilds it.
    func load(logSize: Int64) throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else { return false }
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var loaded: [Entry] = []
        loaded.reserveCapacity(buffer.readableBytes / Self.entrySize)
        var index = buffer.readerIndex
        while index < buffer.writerIndex {
            guard let relative = buffer.getInteger(at: index, as: Int32.self),
                  let position = buffer.getInteger(at: index + 4, as: Int32.self) else { return false }
            let entry = Entry(offset: baseOffset + Int64(relative), position: Int64(UInt32(bitPattern: position)))
            if let previous = loaded.last, entry.offset <= previous.offset || entry.position <= previous.position {
                // Kafka preallocates index files with zeros; a trailing zero entry ends the index.
                if relative == 0 && position == 0 { break }
                return false
            }
            guard entry.position < logSize, relative >= 0 else { return false }
            loaded.append(entry)
            index += Self.entrySize
        }
        entries = loaded
        persisted = loaded.count
        return true
    }

    /// Adds an entry (offset strictly greater and position strictly greater than the last); it reaches the
    /// file with the next `persist` (every `writeBehind` entries, at roll and at flush).
    func append(offset: Int64, position: Int64, cache: FileHandleCache) throws(StorageError) {
        if let last = entries.last, offset <= last.offset || position <= last.position { return }
        guard !isFull else { return }
        entries.append(Entry(offset: offset, position: position))
        if entries.count - persisted >= Self.writeBehind { try persist(cache: cache) }
    }

    /// Writes the entries not yet in the file, in one pwrite.
    func persist(cache: FileHandleCache) throws(StorageError) {
        guard persisted < entries.count else { return }
        var bytes = ByteBufferAllocator().buffer(capacity: (entries.count - persisted) * Self.entrySize)
        for entry in entries[persisted...] {
            bytes.writeInteger(Int32(truncatingIfNeeded: entry.offset - baseOffset))
            bytes.writeInteger(UInt32(truncatingIfNeeded: entry.position))
        }
        let file = try cache.handle(path, create: true)
        try file.write([bytes], at: Int64(persisted * Self.entrySize))
        persisted = entries.count
    }

    /// The last entry whose offset is ≤ `target`, or the segment start.
    func lookup(_ target: Int64) -> Entry {
        var low = 0
        var high = entries.count - 1
        var found = Entry(offset: baseOffset, position: 0)
        while low <= high {
            let mid = (low + high) / 2
            if entries[mid].offset <= target {
                found = entries[mid]
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Drops entries with offset ≥ `offset` (in memory and on disk).
    func truncate(fromOffset offset: Int64, cache: FileHandleCache) throws(StorageError) {
        guard let keep = entries.firstIndex(where: { $0.offset >= offset }) else { return }
        entries.removeSubrange(keep...)
        persisted = min(persisted, entries.count)
        try cache.handle(path, create: true).truncate(to: Int64(persisted * Self.entrySize))
    }

    /// Drops entries at or past file position `cut` (in memory; the file only shrinks, nothing is written).
    func truncate(fromPosition cut: Int64, cache: FileHandleCache) throws(StorageError) {
        guard let keep = entries.firstIndex(where: { $0.position >= cut }) else { return }
        entries.removeSubrange(keep...)
        persisted = min(persisted, entries.count)
        try cache.handle(path, create: true).truncate(to: Int64(persisted * Self.entrySize))
    }

    /// Replaces the contents (after a rebuild) and rewrites the file.
    func replace(with newEntries: [Entry], cache: FileHandleCache) throws(StorageError) {
        entries = newEntries
        persisted = newEntries.count
        var bytes = ByteBufferAllocator().buffer(capacity: newEntries.count * Self.entrySize)
        for entry in newEntries {
            bytes.writeInteger(Int32(truncatingIfNeeded: entry.offset - baseOffset))
            bytes.writeInteger(UInt32(truncatingIfNeeded: entry.position))
        }
        let file = try cache.handle(path, create: true)
        try file.truncate(to: 0)
        try file.write([bytes], at: 0)
    }
}
