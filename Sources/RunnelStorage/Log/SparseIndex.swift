// SparseIndex: what a segment's offset and time indexes share — the entries in memory, how many of them
// are already in the file, write-behind (entries leave as one write for the I/O engine, or written at
// once at shutdown and compaction), truncation, replacement after a rebuild, and the binary search for
// the last entry below a bound. OffsetIndex and TimeIndex add their entry rules and lookups.
import NIOCore

/// One entry of a sparse index file.
protocol SparseIndexEntry: Equatable {
    /// Bytes of the entry in the file.
    static var size: Int { get }
    /// The offset the entry names.
    var offset: Int64 { get }
    /// Appends the entry's file bytes (offsets relative to `baseOffset`).
    func write(to buffer: inout ByteBuffer, baseOffset: Int64)
}

/// The entries of one segment's index file. Used only under its partition's lock.
class SparseIndex<Entry: SparseIndexEntry> {
    let path: String
    let baseOffset: Int64
    var maxEntries: Int
    private(set) var entries: [Entry] = []
    /// Entries already in the file; the rest leave with the next `takeUnpersisted`.
    private var persisted = 0

    init(path: String, baseOffset: Int64, maxIndexBytes: Int) {
        self.path = path
        self.baseOffset = baseOffset
        maxEntries = max(maxIndexBytes / Entry.size, 1)
    }

    var isFull: Bool { entries.count >= maxEntries }
    var lastEntry: Entry? { entries.last }
    /// True when `OffsetIndex.writeBehind` entries wait for the file.
    var isWriteBehindDue: Bool { entries.count - persisted >= OffsetIndex.writeBehind }

    /// Adds an entry in memory (the caller checked the ordering rules).
    func add(_ entry: Entry) { entries.append(entry) }

    /// Takes entries read from the file (all of them are in it).
    func loaded(_ fromFile: [Entry]) {
        entries = fromFile
        persisted = fromFile.count
    }

    /// The entries not yet in the file, as one write (for the I/O engine); they count as written.
    func takeUnpersisted() -> IndexWrite? {
        guard persisted < entries.count else { return nil }
        var bytes = ByteBufferAllocator().buffer(capacity: (entries.count - persisted) * Entry.size)
        for entry in entries[persisted...] { entry.write(to: &bytes, baseOffset: baseOffset) }
        let write = IndexWrite(path: path, position: Int64(persisted * Entry.size), bytes: bytes)
        persisted = entries.count
        return write
    }

    /// Writes the entries not yet in the file now, in one pwrite (clean shutdown, compaction).
    func persist(cache: FileHandleCache) throws(StorageError) {
        guard let write = takeUnpersisted() else { return }
        try cache.handle(path, create: true).write([write.bytes], at: write.position)
    }

    /// Drops the first entry matching `predicate` and all after it (in memory; the file only shrinks).
    func drop(from predicate: (Entry) -> Bool, cache: FileHandleCache) throws(StorageError) {
        guard let keep = entries.firstIndex(where: predicate) else { return }
        entries.removeSubrange(keep...)
        persisted = min(persisted, entries.count)
        try cache.handle(path, create: true).truncate(to: Int64(persisted * Entry.size))
    }

    /// Drops entries with offset ≥ `offset`.
    func truncate(fromOffset offset: Int64, cache: FileHandleCache) throws(StorageError) {
        try drop(from: { $0.offset >= offset }, cache: cache)
    }

    /// Replaces the contents (after a rebuild) and rewrites the file.
    func replace(with newEntries: [Entry], cache: FileHandleCache) throws(StorageError) {
        loaded(newEntries)
        var bytes = ByteBufferAllocator().buffer(capacity: newEntries.count * Entry.size)
        for entry in newEntries { entry.write(to: &bytes, baseOffset: baseOffset) }
        let file = try cache.handle(path, create: true)
        try file.truncate(to: 0)
        try file.write([bytes], at: 0)
    }

    /// The last entry for which `isBelow` holds, given that it holds for a prefix of the entries.
    func lastEntry(where isBelow: (Entry) -> Bool) -> Entry? {
        var low = 0
        var high = entries.count - 1
        var found: Entry?
        while low <= high {
            let mid = (low + high) / 2
            if isBelow(entries[mid]) {
                found = entries[mid]
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }
}
