// AtomicFileWriter: whole small files of one partition (producer-state snapshots, the leader-epoch
// checkpoint) written atomically without blocking the caller. The bytes go to `<path>.<n>.tmp` through the
// log dir's I/O engine, with an fdatasync; the completion (on the engine's sync thread) renames the
// temporary file over `path` and fsyncs the directory. A write whose path was cancelled, or overtaken by a
// newer write of the same path, is discarded instead of renamed, so a late write never resurrects a
// snapshot a truncation deleted nor replaces a newer checkpoint.
import Glibc
import Logging
import NIOCore
import Synchronization

/// Atomic, asynchronous small-file writes through an I/O engine.
final class AtomicFileWriter: Sendable {
    private let engine: IOEngine
    private let directory: String
    private let logger: Logger
    /// Reports a failed write against the log dir (an EIO takes it offline).
    private let failed: @Sendable (Int32, String) -> Void
    /// Path → sequence number of its newest write still in flight.
    private let inFlight = Mutex<(next: UInt64, latest: [String: UInt64])>((0, [:]))

    init(engine: IOEngine, directory: String, logger: Logger, failed: @escaping @Sendable (Int32, String) -> Void) {
        self.engine = engine
        self.failed = failed
        self.directory = directory
        self.logger = logger
    }

    /// Writes still in flight (clean shutdown and truncation wait for none).
    var pendingCount: Int { inFlight.withLock { $0.latest.count } }

    /// Queues `bytes` for `path`. Opening the temporary file (O_CREAT) is the only system call made on
    /// the caller's thread. `done` runs on the engine's sync thread with 0 or an errno.
    func write(_ bytes: ByteBuffer, to path: String, done: (@Sendable (Int32) -> Void)? = nil) {
        let sequence = inFlight.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        // One temporary file per write: an overtaken write removes only its own file, never the bytes of
        // the newer write of the same path (the loader deletes every leftover `*.tmp` at open).
        let temporary = "\(path).\(sequence).tmp"
        let file: LogFileHandle
        do throws(StorageError) {
            file = try LogFileHandle.open(temporary, create: true)
            try file.truncate(to: 0)
        } catch {
            logger.error("could not create a temporary file", metadata: ["path": "\(temporary)", "error": "\(error)"])
            done?(EIO)
            return
        }
        inFlight.withLock { state in
            // Keep the newest sequence should a later write of the path have registered first.
            if (state.latest[path] ?? 0) < sequence { state.latest[path] = sequence }
        }
        var request = IORequest(file: file, position: 0, chunks: [bytes], sync: true) { [self] code in
            finish(path: path, temporary: temporary, sequence: sequence, code: code)
            done?(code)
        }
        request.injectable = false
        if !engine.submit(request) {
            // The engine is shut down (the log dir went offline or the manager is closing): write inline.
            finish(path: path, temporary: temporary, sequence: sequence, code: writeInline(bytes, file: file))
        }
    }

    private func writeInline(_ bytes: ByteBuffer, file: LogFileHandle) -> Int32 {
        do throws(StorageError) {
            try file.write([bytes], at: 0)
            try file.sync()
            return 0
        } catch {
            if case let .io(_, _, code) = error { return code }
            return EIO
        }
    }

    private func finish(path: String, temporary: String, sequence: UInt64, code: Int32) {
        let renamed = inFlight.withLock { state -> Bool in
            guard state.latest[path] == sequence else { return false }
            state.latest[path] = nil
            guard code == 0 else { return false }
            // Renamed under the lock, so `cancel` either sees the write pending or the file in place.
            do throws(StorageError) {
                try FileSystem.rename(temporary, to: path)
                return true
            } catch {
                return false
            }
        }
        if renamed {
            FileSystem.syncDirectory(directory)
        } else {
            FileSystem.unlink(temporary)
            if code != 0 {
                logger.error("atomic file write failed", metadata: ["path": "\(path)", "errno": "\(code)"])
                failed(code, path)
            }
        }
    }

    /// Discards the pending writes of paths matching `predicate` (they will not be renamed into place).
    /// Call before deleting such files, so a write completing later cannot bring one back.
    func cancel(where predicate: (String) -> Bool) {
        inFlight.withLock { state in
            for path in state.latest.keys where predicate(path) { state.latest[path] = nil }
        }
    }
}
