// FileHandleCache: the LRU of open segment and index files shared by every log of a LogManager,
// so opening thousands of partitions keeps at most `capacity` descriptors in the cache.
import Synchronization

/// Opens files on demand and keeps the most recently used ones open.
/// Evicting only drops the cache's reference: a reader or writer still holding the handle keeps it open.
final class FileHandleCache: Sendable {
    private struct Entry {
        var handle: LogFileHandle
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 4) }

    /// The open handle for `path`, opening (and creating, when asked) it if needed.
    func handle(_ path: String, create: Bool = false) throws(StorageError) -> LogFileHandle {
        if let cached = state.withLock({ state -> LogFileHandle? in
            state.clock += 1
            guard var entry = state.entries[path] else { return nil }
            entry.lastUse = state.clock
            state.entries[path] = entry
            return entry.handle
        }) { return cached }
        let handle = try LogFileHandle.open(path, create: create)
        return state.withLock { state in
            state.clock += 1
            if let raced = state.entries[path] { return raced.handle }
            if state.entries.count >= capacity, let victim = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.entries.removeValue(forKey: victim.key)
            }
            state.entries[path] = Entry(handle: handle, lastUse: state.clock)
            return handle
        }
    }

    /// Forgets `path` (after a rename or delete); holders of the handle keep it.
    func evict(_ path: String) {
        _ = state.withLock { $0.entries.removeValue(forKey: path) }
    }

    /// Forgets every path under `directory`.
    func evict(directory: String) {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        state.withLock { state in
            for key in state.entries.keys where key.hasPrefix(prefix) { state.entries.removeValue(forKey: key) }
        }
    }

    var openCount: Int { state.withLock { $0.entries.count } }
}
