// TimeIndex: a segment's sparse `.timeindex` file — entries of (largest timestamp so far: Int64,
// offset − base offset: Int32), big-endian, 12 bytes each, both ascending. Written behind like the
// offset index (several entries per write; complete at roll and flush).
import NIOCore

/// One `.timeindex` entry: the largest timestamp so far and the offset that carries it.
struct TimeIndexEntry: SparseIndexEntry {
    static let size = IndexFileFormat.timeEntrySize
    var timestamp: Int64
    var offset: Int64

    func write(to buffer: inout ByteBuffer, baseOffset: Int64) {
        buffer.writeInteger(timestamp)
        buffer.writeInteger(Int32(truncatingIfNeeded: offset - baseOffset))
    }
}

/// Maps timestamps to offsets for one segment. Used only under its partition's lock.
final class TimeIndex: SparseIndex<TimeIndexEntry> {
    typealias Entry = TimeIndexEntry
    static let entrySize = Entry.size

    /// Loads the file; false when missing or inconsistent (the caller rebuilds it).
    func load(nextOffset: Int64) throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else { return false }
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var fromFile: [Entry] = []
        for stored in IndexFileFormat.timeEntries(in: buffer) {
            let (timestamp, relative) = (stored.timestamp, stored.relativeOffset)
            let entry = Entry(timestamp: timestamp, offset: baseOffset + Int64(relative))
            if timestamp == 0 && relative == 0 && !fromFile.isEmpty { break }  // preallocated tail
            if let previous = fromFile.last, entry.timestamp < previous.timestamp || entry.offset < previous.offset {
                return false
            }
            guard relative >= 0, entry.offset < max(nextOffset, baseOffset + 1) else { return false }
            fromFile.append(entry)
        }
        loaded(fromFile)
        return true
    }

    /// Adds an entry in memory when `timestamp` is larger than the last one's (written behind, like the
    /// offset index).
    func maybeAppend(timestamp: Int64, offset: Int64, skipFullCheck: Bool = false) {
        if let last = lastEntry, timestamp <= last.timestamp || offset < last.offset { return }
        guard skipFullCheck || !isFull else { return }
        add(Entry(timestamp: timestamp, offset: offset))
    }

    /// The last entry whose timestamp is < `target` (the scan for "first timestamp ≥ target" starts there),
    /// or the segment start.
    func lookup(before target: Int64) -> Entry {
        lastEntry(where: { $0.timestamp < target }) ?? Entry(timestamp: -1, offset: baseOffset)
    }
}
