// TimeIndex: a segment's sparse `.timeindex` file — entries of (largest timestamp so far: Int64,
// offset − base offset: Int32), big-endian, 12 bytes each, both ascending. Written behind like the
// offset index (several entries per pwrite; complete at roll and flush).
import NIOCore

/// Maps timestamps to offsets for one segment. Used only under its partition's lock.
final class TimeIndex {
    struct Entry: Equatable {
        var timestamp: Int64
        var offset: Int64
    }

    static let entrySize = IndexFileFormat.timeEntrySize
    let path: String
    let baseOffset: Int64
    var maxEntries: Int
    private(set) var entries: [Entry] = []
    /// Entries already in the file; the rest are written by `persist`.
    private var persisted = 0

    init(path: String, baseOffset: Int64, maxIndexBytes: Int) {
        self.path = path
        self.baseOffset = baseOffset
        maxEntries = max(maxIndexBytes / Self.entrySize, 1)
    }

    var isFull: Bool { entries.count >= maxEntries }
    var lastEntry: Entry? { entries.last }

    /// Loads the file; false when missing or inconsistent (the caller rebuilds it).
    func load(nextOffset: Int64) throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else { return false }
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var loaded: [Entry] = []
        for stored in IndexFileFormat.timeEntries(in: buffer) {
            let (timestamp, relative) = (stored.timestamp, stored.relativeOffset)
            let entry = Entry(timestamp: timestamp, offset: baseOffset + Int64(relative))
            if timestamp == 0 && relative == 0 && !loaded.isEmpty { break }  // preallocated tail
            if let previous = loaded.last, entry.timestamp < previous.timestamp || entry.offset < previous.offset {
                return false
            }
            guard relative >= 0, entry.offset < max(nextOffset, baseOffset + 1) else { return false }
            loaded.append(entry)
        }
        entries = loaded
        persisted = loaded.count
        return true
    }

    /// Adds an entry in memory when `timestamp` is larger than the last one's (written behind, like the
    /// offset index).
    func maybeAppend(timestamp: Int64, offset: Int64, skipFullCheck: Bool = false) {
        if let last = entries.last, timestamp <= last.timestamp || offset < last.offset { return }
        guard skipFullCheck || !isFull else { return }
        entries.append(Entry(timestamp: timestamp, offset: offset))
    }

    /// True when `OffsetIndex.writeBehind` entries wait for the file.
    var isWriteBehindDue: Bool { entries.count - persisted >= OffsetIndex.writeBehind }

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

    /// The last entry whose timestamp is < `target` (the scan for "first timestamp ≥ target" starts there),
    /// or the segment start.
    func lookup(before target: Int64) -> Entry {
        var found = Entry(timestamp: -1, offset: baseOffset)
        var low = 0
        var high = entries.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if entries[mid].timestamp < target {
                found = entries[mid]
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Drops entries with offset ≥ `offset`.
    func truncate(fromOffset offset: Int64, cache: FileHandleCache) throws(StorageError) {
        guard let keep = entries.firstIndex(where: { $0.offset >= offset }) else { return }
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
