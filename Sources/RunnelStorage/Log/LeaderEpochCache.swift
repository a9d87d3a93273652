// LeaderEpochCache: the `leader-epoch-checkpoint` of a partition — (leader epoch, start offset) pairs in
// Kafka's text format ("0", count, then "epoch startOffset" lines) — and OffsetForLeaderEpoch lookups.
import NIOCore

/// One leader epoch and the first offset written in it.
public struct EpochEntry: Sendable, Equatable {
    /// The leader epoch.
    public var epoch: Int32
    /// The first offset written in it.
    public var startOffset: Int64
}

/// Leader epochs of one partition. Used only under its partition's lock.
final class LeaderEpochCache {
    let path: String
    let directory: String
    private(set) var entries: [EpochEntry] = []
    /// Writes the checkpoint through the log dir's I/O engine once the log is open (nil: inline).
    var writer: AtomicFileWriter?

    init(directory: String) {
        self.directory = directory
        path = directory + "/leader-epoch-checkpoint"
    }

    var latestEpoch: Int32? { entries.last?.epoch }

    /// Reads the checkpoint; a missing or malformed file yields an empty cache (logged by the caller).
    func load() throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(path) else { return true }
        let text = String(buffer: buffer)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count == lines.count - 2 else { return false }
        var loaded: [EpochEntry] = []
        for line in lines.dropFirst(2) {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let epoch = Int32(parts[0]), let start = Int64(parts[1]) else { return false }
            loaded.append(EpochEntry(epoch: epoch, startOffset: start))
        }
        entries = loaded
        return true
    }

    /// Records that `epoch` starts at `startOffset` when it is newer than the latest epoch.
    func assign(epoch: Int32, startOffset: Int64) throws(StorageError) {
        guard epoch >= 0 else { return }
        if let last = entries.last, last.epoch >= epoch { return }
        entries.removeAll { $0.startOffset >= startOffset }
        entries.append(EpochEntry(epoch: epoch, startOffset: startOffset))
        try write()
    }

    /// OffsetForLeaderEpoch: (the largest epoch ≤ `requested`, the start offset of the next epoch),
    /// the log end offset when `requested` is the latest epoch, or (-1, -1) when unknown.
    func endOffset(for requested: Int32, logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64) {
        guard requested >= 0, let last = entries.last else { return (-1, -1) }
        if requested == last.epoch { return (requested, logEndOffset) }
        guard let higher = entries.firstIndex(where: { $0.epoch > requested }) else { return (-1, -1) }
        if higher == 0 { return (requested, entries[0].startOffset) }
        return (entries[higher - 1].epoch, entries[higher].startOffset)
    }

    /// Drops epochs starting at or after `offset` (truncation of the log end).
    func truncateFromEnd(_ offset: Int64) throws(StorageError) {
        let before = entries.count
        entries.removeAll { $0.startOffset >= offset }
        if entries.count != before { try write() }
    }

    /// Moves the first epoch's start up to `offset` (log start offset moved).
    func truncateFromStart(_ offset: Int64) throws(StorageError) {
        guard let keep = entries.lastIndex(where: { $0.startOffset <= offset }), keep > 0 || entries[0].startOffset < offset else { return }
        var updated = Array(entries[keep...])
        updated[0].startOffset = offset
        entries = updated
        try write()
    }

    func write() throws(StorageError) {
        var text = "0\n\(entries.count)\n"
        for entry in entries { text += "\(entry.epoch) \(entry.startOffset)\n" }
        if let writer {
            // The engine completes in submission order: the checkpoint is in place (and its directory
            // fsynced) before the completion of any append queued after it.
            writer.write(ByteBuffer(string: text), to: path)
        } else {
            try FileSystem.writeAtomically(path, bytes: ByteBuffer(string: text), directory: directory)
        }
    }
}
