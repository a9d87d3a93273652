// IndexFileFormat: the bytes of Kafka's `.index` (relative offset Int32, position Int32, big-endian,
// 8 bytes an entry) and `.timeindex` (timestamp Int64, relative offset Int32, 12 bytes an entry) files —
// the one encoder and reader that OffsetIndex, TimeIndex and `runnel log dump` share.
import NIOCore

/// Encoding and decoding of offset and time index files.
public enum IndexFileFormat {
    /// One `.index` entry as stored.
    public struct OffsetEntry: Sendable, Equatable {
        /// Offset minus the segment's base offset (the entry names a batch's last offset).
        public var relativeOffset: Int32
        /// Byte position of the batch in the `.log` file.
        public var position: Int64
    }

    /// One `.timeindex` entry as stored.
    public struct TimeEntry: Sendable, Equatable {
        /// The largest timestamp in the segment up to the entry.
        public var timestamp: Int64
        /// Offset minus the segment's base offset.
        public var relativeOffset: Int32
    }

    /// Bytes of one `.index` entry.
    public static let offsetEntrySize = 8
    /// Bytes of one `.timeindex` entry.
    public static let timeEntrySize = 12

    /// Every whole `.index` entry in `buffer`, in file order (a trailing partial entry is ignored).
    public static func offsetEntries(in buffer: ByteBuffer) -> [OffsetEntry] {
        var entries: [OffsetEntry] = []
        entries.reserveCapacity(buffer.readableBytes / offsetEntrySize)
        var index = buffer.readerIndex
        while index + offsetEntrySize <= buffer.writerIndex,
              let relative = buffer.getInteger(at: index, as: Int32.self),
              let position = buffer.getInteger(at: index + 4, as: UInt32.self) {
            entries.append(OffsetEntry(relativeOffset: relative, position: Int64(position)))
            index += offsetEntrySize
        }
        return entries
    }

    /// Every whole `.timeindex` entry in `buffer`, in file order (a trailing partial entry is ignored).
    public static func timeEntries(in buffer: ByteBuffer) -> [TimeEntry] {
        var entries: [TimeEntry] = []
        entries.reserveCapacity(buffer.readableBytes / timeEntrySize)
        var index = buffer.readerIndex
        while index + timeEntrySize <= buffer.writerIndex,
              let timestamp = buffer.getInteger(at: index, as: Int64.self),
              let relative = buffer.getInteger(at: index + 8, as: Int32.self) {
            entries.append(TimeEntry(timestamp: timestamp, relativeOffset: relative))
            index += timeEntrySize
        }
        return entries
    }
}

/// Index bytes to write at `position` of the file at `path` (written behind, through the I/O engine).
struct IndexWrite {
    var path: String
    var position: Int64
    var bytes: ByteBuffer
}
