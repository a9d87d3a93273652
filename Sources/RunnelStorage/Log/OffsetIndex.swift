// OffsetIndex: a segment's sparse `.index` file — entries of (offset − base offset: Int32,
// file position: Int32), big-endian, 8 bytes each, ascending — kept in memory once loaded. New entries
// are written behind, several per write (the file is complete once the segment rolls or is flushed; an
// unclean stop rebuilds the index of the segments it recovers anyway).
import NIOCore

/// One `.index` entry: a batch's last offset and the batch's start position.
struct OffsetIndexEntry: SparseIndexEntry {
    static let size = IndexFileFormat.offsetEntrySize
    var offset: Int64
    var position: Int64

    func write(to buffer: inout ByteBuffer, baseOffset: Int64) {
        buffer.writeInteger(Int32(truncatingIfNeeded: offset - baseOffset))
        buffer.writeInteger(UInt32(truncatingIfNeeded: position))
    }
}

/// Maps offsets to file positions for one segment. Used only under its partition's lock.
final class OffsetIndex: SparseIndex<OffsetIndexEntry> {
    typealias Entry = OffsetIndexEntry
    static let entrySize = Entry.size
    /// Entries gathered before they are written together.
    static let writeBehind = 256

    /// Loads the file; returns false when it is missing or inconsistent (not a multiple of 8, not ascending,
    /// or pointing past `logSize`), in which case the caller rebuilds it.
    func load(logSize: Int64) throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else { return false }
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var fromFile: [Entry] = []
        fromFile.reserveCapacity(buffer.readableBytes / Self.entrySize)
        for stored in IndexFileFormat.offsetEntries(in: buffer) {
            let entry = Entry(offset: baseOffset + Int64(stored.relativeOffset), position: stored.position)
            if let previous = fromFile.last, entry.offset <= previous.offset || entry.position <= previous.position {
                // Kafka preallocates index files with zeros; a trailing zero entry ends the index.
                if stored.relativeOffset == 0 && stored.position == 0 { break }
                return false
            }
            guard entry.position < logSize, stored.relativeOffset >= 0 else { return false }
            fromFile.append(entry)
        }
        loaded(fromFile)
        return true
    }

    /// Adds an entry (offset strictly greater and position strictly greater than the last) in memory; it
    /// reaches the file with the next `takeUnpersisted` (every `writeBehind` entries, at roll and at flush).
    func append(offset: Int64, position: Int64) {
        if let last = lastEntry, offset <= last.offset || position <= last.position { return }
        guard !isFull else { return }
        add(Entry(offset: offset, position: position))
    }

    /// The last entry whose offset is ≤ `target`, or the segment start.
    func lookup(_ target: Int64) -> Entry {
        lastEntry(where: { $0.offset <= target }) ?? Entry(offset: baseOffset, position: 0)
    }

    /// Drops entries at or past file position `cut` (in memory; the file only shrinks, nothing is written).
    func truncate(fromPosition cut: Int64, cache: FileHandleCache) throws(StorageError) {
        try drop(from: { $0.position >= cut }, cache: cache)
    }
}
