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

    static let entrySize = IndexFileFormat.offsetEntrySize
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
        for stored in IndexFileFormat.offsetEntries(in: buffer) {
            let entry = Entry(offset: baseOffset + Int64(stored.relativeOffset), position: stored.position)
            if let previous = loaded.last, entry.offset <= previous.offset || entry.position <= previous.position {
                // Kafka preallocates index files with zeros; a trailing zero entry ends the index.
                if stored.relativeOffset == 0 && stored.position == 0 { break }
                return false
            }
            guard entry.position < logSize, stored.relativeOffset >= 0 else { return false }
            loaded.append(entry)
        }
        entries = loaded
        persisted = loaded.count
        return true
    }

    /// Adds an entry (offset strictly greater and position strictly greater than the last) in memory; it
    /// reaches the file with the next `takeUnpersisted` (every `writeBehind` entries, at roll and at flush).
    func append(offset: Int64, position: Int64) {
        if let last = entries.last, offset <= last.offset || position <= last.position { return }
        guard !isFull else { return }
        entries.append(Entry(offset: offset, position: position))
    }

    /// True when `writeBehind` entries wait for the file.
    var isWriteBehindDue: Bool { entries.count - persisted >= Self.writeBehind }

    /// The entries not yet in the file, as one write (handed to the I/O engine); they count as written.
    func takeUnpersisted() -> IndexWrite? {
        guard persisted < entries.count else { return nil }
        let write = IndexWrite(path: path, position: Int64(persisted * Self.entrySize),
                               bytes: IndexFileFormat.encode(entries[persisted...], baseOffset: baseOffset))
        persisted = entries.count
        return write
    }

    /// Writes the entries not yet in the file now, in one pwrite (clean shutdown, compaction).
    func persist(cache: FileHandleCache) throws(StorageError) {
        guard let write = takeUnpersisted() else { return }
        try cache.handle(path, create: true).write([write.bytes], at: write.position)
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
        let bytes = IndexFileFormat.encode(newEntries[...], baseOffset: baseOffset)
        let file = try cache.handle(path, create: true)
        try file.truncate(to: 0)
        try file.write([bytes], at: 0)
    }
}
